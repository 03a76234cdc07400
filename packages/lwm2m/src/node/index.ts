/** Node-only entry point: DDF files from disk, fleet mode on UDP. */
export { addObjectDefinitionFiles, loadObjectDefinitionDirectory, loadObjectDefinitionFile } from './ddf.js';
export {
  createUdpFleet,
  DEVICE_ENDPOINT_LIMITS,
  fileDescriptorLimit,
  type UdpFleetOptions,
} from './fleet.js';

export {
  Fleet,
  type FleetDevice,
  type FleetEvents,
  type FleetOptions,
  type FleetStats,
  installFleetObjects,
} from './fleet.js';

/**
 * Built-in object definitions: ids, names, operations, multiplicity, mandatory flags, types, ranges and
 * units as registered in the OMA LwM2M Object and Resource Registry (the DDF files 0.xml … 3311.xml of
 * OpenMobileAlliance/lwm2m-registry, versions noted per object). Facts only: descriptions are left out;
 * load the DDF files with `parseObjectDefinitionXml` to get them.
 */
import type {
  ObjectDefinition,
  ResourceDefinition,
  ResourceOperations,
  ResourceType,
} from './definitions.js';

type SM = 'S' | 'M';
type MO = 'M' | 'O';

function res(
  id: number,
  name: string,
  operations: ResourceOperations,
  multiple: SM,
  mandatory: MO,
  type: ResourceType,
  range?: string,
  units?: string,
): ResourceDefinition {
  const r: { -readonly [K in keyof ResourceDefinition]: ResourceDefinition[K] } = {
    id,
    name,
    operations,
    multiple: multiple === 'M',
    mandatory: mandatory === 'M',
    type,
  };
  if (range) r.range = range;
  if (units) r.units = units;
  return r;
}

function obj(
  id: number,
  name: string,
  version: string,
  lwm2mVersion: string,
  multiple: SM,
  mandatory: MO,
  resources: ResourceDefinition[],
): ObjectDefinition {
  return {
    id,
    name,
    version,
    lwm2mVersion,
    multiple: multiple === 'M',
    mandatory: mandatory === 'M',
    resources,
  };
}

/** Security (0), Server (1), Access Control (2), Device (3), Connectivity Monitoring (4), Firmware
 * Update (5), Location (6), Connectivity Statistics (7), OSCORE (21), Generic Sensor (3300), Temperature
 * (3303), Humidity (3304), Light Control (3311). */
export const BUILTIN_OBJECTS: readonly ObjectDefinition[] = [
  // 0
  obj(0, 'LWM2M Security', '1.2', '1.1', 'M', 'M', [
    res(0, 'LWM2M Server URI', 'none', 'S', 'M', 'String', '0..255'),
    res(1, 'Bootstrap-Server', 'none', 'S', 'M', 'Boolean'),
    res(2, 'Security Mode', 'none', 'S', 'M', 'Integer', '0..4'),
    res(3, 'Public Key or Identity', 'none', 'S', 'M', 'Opaque'),
    res(4, 'Server Public Key', 'none', 'S', 'M', 'Opaque'),
    res(5, 'Secret Key', 'none', 'S', 'M', 'Opaque'),
    res(6, 'SMS Security Mode', 'none', 'S', 'O', 'Integer', '0..255'),
    res(7, 'SMS Binding Key Parameters', 'none', 'S', 'O', 'Opaque', '6'),
    res(8, 'SMS Binding Secret Key(s)', 'none', 'S', 'O', 'Opaque', '16,32,48'),
    res(9, 'LwM2M Server SMS Number', 'none', 'S', 'O', 'String'),
    res(10, 'Short Server ID', 'none', 'S', 'O', 'Integer', '1..65534'),
    res(11, 'Client Hold Off Time', 'none', 'S', 'O', 'Integer', '', 's'),
    res(12, 'Bootstrap-Server Account Timeout', 'none', 'S', 'O', 'Integer', '', 's'),
    res(13, 'Matching Type', 'none', 'S', 'O', 'Unsigned Integer', '0..3'),
    res(14, 'SNI', 'none', 'S', 'O', 'String'),
    res(15, 'Certificate Usage', 'none', 'S', 'O', 'Unsigned Integer', '0..3'),
    res(16, 'DTLS/TLS Ciphersuite', 'none', 'M', 'O', 'Unsigned Integer'),
    res(17, 'OSCORE Security Mode', 'none', 'S', 'O', 'Objlnk'),
    res(18, 'Groups To Use by Client', 'none', 'M', 'O', 'Unsigned Integer', '0..65535'),
    res(19, 'Signature Algorithms Supported by Server', 'none', 'M', 'O', 'Unsigned Integer', '0..65535'),
    res(20, 'Signature Algorithms To Use by Client', 'none', 'M', 'O', 'Unsigned Integer', '0..65535'),
    res(
      21,
      'Signature Algorithm Certs Supported by Server',
      'none',
      'M',
      'O',
      'Unsigned Integer',
      '0..65535',
    ),
    res(22, 'TLS 1.3 Features To Use by Client', 'none', 'S', 'O', 'Unsigned Integer', '0..65535'),
    res(23, 'TLS Extensions Supported by Server', 'none', 'S', 'O', 'Unsigned Integer', '0..65535'),
    res(24, 'TLS Extensions To Use by Client', 'none', 'S', 'O', 'Unsigned Integer', '0..65535'),
    res(25, 'Secondary LwM2M Server URI', 'none', 'M', 'O', 'String', '0..255'),
    res(26, 'MQTT Server', 'none', 'S', 'O', 'Objlnk'),
    res(27, 'LwM2M COSE Security', 'none', 'M', 'O', 'Objlnk'),
    res(28, 'RDS Destination Port', 'none', 'S', 'O', 'Integer', '0..15'),
    res(29, 'RDS Source Port', 'none', 'S', 'O', 'Integer', '0..15'),
    res(30, 'RDS Application ID', 'none', 'S', 'O', 'String'),
  ]),
  // 1
  obj(1, 'LwM2M Server', '1.2', '1.2', 'M', 'M', [
    res(0, 'Short Server ID', 'R', 'S', 'M', 'Integer', '1..65534'),
    res(1, 'Lifetime', 'RW', 'S', 'M', 'Integer', '', 's'),
    res(2, 'Default Minimum Period', 'RW', 'S', 'O', 'Integer', '', 's'),
    res(3, 'Default Maximum Period', 'RW', 'S', 'O', 'Integer', '', 's'),
    res(4, 'Disable', 'E', 'S', 'O', 'none'),
    res(5, 'Disable Timeout', 'RW', 'S', 'O', 'Integer', '', 's'),
    res(6, 'Notification Storing When Disabled or Offline', 'RW', 'S', 'M', 'Boolean'),
    res(7, 'Binding', 'RW', 'S', 'M', 'String'),
    res(8, 'Registration Update Trigger', 'E', 'S', 'M', 'none'),
    res(9, 'Bootstrap-Request Trigger', 'E', 'S', 'O', 'none'),
    res(10, 'APN Link', 'RW', 'S', 'O', 'Objlnk'),
    res(11, 'TLS-DTLS Alert Code', 'R', 'S', 'O', 'Unsigned Integer', '0..255'),
    res(12, 'Last Bootstrapped', 'R', 'S', 'O', 'Time'),
    res(13, 'Registration Priority Order', 'R', 'S', 'O', 'Unsigned Integer'),
    res(14, 'Initial Registration Delay Timer', 'RW', 'S', 'O', 'Unsigned Integer', '', 's'),
    res(15, 'Registration Failure Block', 'R', 'S', 'O', 'Boolean'),
    res(16, 'Bootstrap on Registration Failure', 'R', 'S', 'O', 'Boolean'),
    res(17, 'Communication Retry Count', 'RW', 'S', 'O', 'Unsigned Integer'),
    res(18, 'Communication Retry Timer', 'RW', 'S', 'O', 'Unsigned Integer', '', 's'),
    res(19, 'Communication Sequence Delay Timer', 'RW', 'S', 'O', 'Unsigned Integer', '', 's'),
    res(20, 'Communication Sequence Retry Count', 'RW', 'S', 'O', 'Unsigned Integer'),
    res(21, 'Trigger', 'RW', 'S', 'O', 'Boolean'),
    res(
      22,
      'Preferred Transport',
      'RW',
      'S',
      'O',
      'String',
      'The possible values are those listed in the LwM2M Core Specification',
    ),
    res(23, 'Mute Send', 'RW', 'S', 'O', 'Boolean'),
    res(24, 'Alternate APN Links', 'RW', 'M', 'O', 'Objlnk'),
    res(25, 'Supported Server Versions', 'RW', 'M', 'O', 'String'),
    res(26, 'Default Notification Mode', 'RW', 'S', 'O', 'Integer', '0..1'),
    res(27, 'Profile ID Hash Algorithm', 'RW', 'S', 'O', 'Unsigned Integer', '0..255'),
  ]),
  // 2
  obj(2, 'LwM2M Access Control', '1.1', '1.0', 'M', 'O', [
    res(0, 'Object ID', 'R', 'S', 'M', 'Integer', '1..65534'),
    res(1, 'Object Instance ID', 'R', 'S', 'M', 'Integer', '0..65535'),
    res(2, 'ACL', 'RW', 'M', 'O', 'Integer', '0..31'),
    res(3, 'Access Control Owner', 'RW', 'S', 'M', 'Integer', '0..65535'),
  ]),
  // 3
  obj(3, 'Device', '1.2', '1.1', 'S', 'M', [
    res(0, 'Manufacturer', 'R', 'S', 'O', 'String'),
    res(1, 'Model Number', 'R', 'S', 'O', 'String'),
    res(2, 'Serial Number', 'R', 'S', 'O', 'String'),
    res(3, 'Firmware Version', 'R', 'S', 'O', 'String'),
    res(4, 'Reboot', 'E', 'S', 'M', 'none'),
    res(5, 'Factory Reset', 'E', 'S', 'O', 'none'),
    res(6, 'Available Power Sources', 'R', 'M', 'O', 'Integer', '0..7'),
    res(7, 'Power Source Voltage', 'R', 'M', 'O', 'Integer'),
    res(8, 'Power Source Current', 'R', 'M', 'O', 'Integer'),
    res(9, 'Battery Level', 'R', 'S', 'O', 'Integer', '0..100', '/100'),
    res(10, 'Memory Free', 'R', 'S', 'O', 'Integer'),
    res(11, 'Error Code', 'R', 'M', 'M', 'Integer', '0..32'),
    res(12, 'Reset Error Code', 'E', 'S', 'O', 'none'),
    res(13, 'Current Time', 'RW', 'S', 'O', 'Time'),
    res(14, 'UTC Offset', 'RW', 'S', 'O', 'String'),
    res(15, 'Timezone', 'RW', 'S', 'O', 'String'),
    res(16, 'Supported Binding and Modes', 'R', 'S', 'M', 'String'),
    res(17, 'Device Type', 'R', 'S', 'O', 'String'),
    res(18, 'Hardware Version', 'R', 'S', 'O', 'String'),
    res(19, 'Software Version', 'R', 'S', 'O', 'String'),
    res(20, 'Battery Status', 'R', 'S', 'O', 'Integer', '0..6'),
    res(21, 'Memory Total', 'R', 'S', 'O', 'Integer'),
    res(22, 'ExtDevInfo', 'R', 'M', 'O', 'Objlnk'),
  ]),
  // 4
  obj(4, 'Connectivity Monitoring', '1.3', '1.1', 'S', 'O', [
    res(0, 'Network Bearer', 'R', 'S', 'M', 'Integer', '0..50'),
    res(1, 'Available Network Bearer', 'R', 'M', 'M', 'Integer', '0..50'),
    res(2, 'Radio Signal Strength', 'R', 'S', 'M', 'Integer', '', 'dBm'),
    res(3, 'Link Quality', 'R', 'S', 'O', 'Integer'),
    res(4, 'IP Addresses', 'R', 'M', 'M', 'String'),
    res(5, 'Router IP Addresses', 'R', 'M', 'O', 'String'),
    res(6, 'Link Utilization', 'R', 'S', 'O', 'Integer', '0..100', '/100'),
    res(7, 'APN', 'R', 'M', 'O', 'String'),
    res(8, 'Cell ID', 'R', 'S', 'O', 'Integer'),
    res(9, 'SMNC', 'R', 'S', 'O', 'Integer', '0..999'),
    res(10, 'SMCC', 'R', 'S', 'O', 'Integer', '0..999'),
    res(11, 'SignalSNR', 'R', 'S', 'O', 'Integer', '', 'dB'),
    res(12, 'LAC', 'R', 'S', 'O', 'Integer'),
    res(13, 'Coverage Enhancement Level', 'R', 'S', 'O', 'Integer', '0..4'),
  ]),
  // 5
  obj(5, 'Firmware Update', '1.2', '1.1', 'S', 'O', [
    res(0, 'Package', 'W', 'S', 'M', 'Opaque'),
    res(1, 'Package URI', 'RW', 'S', 'M', 'String', '0..255'),
    res(2, 'Update', 'E', 'S', 'M', 'none'),
    res(3, 'State', 'R', 'S', 'M', 'Integer', '0..3'),
    res(5, 'Update Result', 'R', 'S', 'M', 'Integer', '0..11'),
    res(6, 'PkgName', 'R', 'S', 'O', 'String', '0..255'),
    res(7, 'PkgVersion', 'R', 'S', 'O', 'String', '0..255'),
    res(8, 'Firmware Update Protocol Support', 'R', 'M', 'O', 'Integer', '0..5'),
    res(9, 'Firmware Update Delivery Method', 'R', 'S', 'M', 'Integer', '0..2'),
    res(10, 'Cancel', 'E', 'S', 'O', 'none'),
    res(11, 'Severity', 'RW', 'S', 'O', 'Integer', '0..2'),
    res(12, 'Last State Change Time', 'R', 'S', 'O', 'Time'),
    res(13, 'Maximum Defer Period', 'RW', 'S', 'O', 'Unsigned Integer', '', 's'),
    res(14, 'Automatic Upgrade at Download', 'RW', 'S', 'O', 'Boolean'),
  ]),
  // 6
  obj(6, 'Location', '1.0', '1.0', 'S', 'O', [
    res(0, 'Latitude', 'R', 'S', 'M', 'Float', '', 'lat'),
    res(1, 'Longitude', 'R', 'S', 'M', 'Float', '', 'lon'),
    res(2, 'Altitude', 'R', 'S', 'O', 'Float', '', 'm'),
    res(3, 'Radius', 'R', 'S', 'O', 'Float', '', 'm'),
    res(4, 'Velocity', 'R', 'S', 'O', 'Opaque'),
    res(5, 'Timestamp', 'R', 'S', 'M', 'Time'),
    res(6, 'Speed', 'R', 'S', 'O', 'Float', '', 'm/s'),
  ]),
  // 7
  obj(7, 'Connectivity Statistics', '1.0', '1.0', 'S', 'O', [
    res(0, 'SMS Tx Counter', 'R', 'S', 'O', 'Integer'),
    res(1, 'SMS Rx Counter', 'R', 'S', 'O', 'Integer'),
    res(2, 'Tx Data', 'R', 'S', 'O', 'Integer'),
    res(3, 'Rx Data', 'R', 'S', 'O', 'Integer'),
    res(4, 'Max Message Size', 'R', 'S', 'O', 'Integer', '', 'B'),
    res(5, 'Average Message Size', 'R', 'S', 'O', 'Integer', '', 'B'),
    res(6, 'Start', 'E', 'S', 'M', 'none'),
    res(7, 'Stop', 'E', 'S', 'M', 'none'),
    res(8, 'Collection Period', 'RW', 'S', 'O', 'Integer', '', 's'),
  ]),
  // 21
  obj(21, 'LWM2M OSCORE', '2.0', '1.1', 'M', 'O', [
    res(0, 'OSCORE Master Secret', 'none', 'S', 'M', 'Opaque'),
    res(1, 'OSCORE Sender ID', 'none', 'S', 'M', 'Opaque'),
    res(2, 'OSCORE Recipient ID', 'none', 'S', 'M', 'Opaque'),
    res(3, 'OSCORE AEAD Algorithm', 'none', 'S', 'O', 'Integer'),
    res(4, 'OSCORE HMAC Algorithm', 'none', 'S', 'O', 'Integer'),
    res(5, 'OSCORE Master Salt', 'none', 'S', 'O', 'Opaque'),
    res(6, 'OSCORE ID Context', 'none', 'S', 'O', 'Opaque'),
  ]),
  // 3300
  obj(3300, 'Generic Sensor', '1.1', '1.0', 'M', 'O', [
    res(5700, 'Sensor Value', 'R', 'S', 'M', 'Float'),
    res(5701, 'Sensor Units', 'R', 'S', 'O', 'String'),
    res(5601, 'Min Measured Value', 'R', 'S', 'O', 'Float'),
    res(5602, 'Max Measured Value', 'R', 'S', 'O', 'Float'),
    res(5603, 'Min Range Value', 'R', 'S', 'O', 'Float'),
    res(5604, 'Max Range Value', 'R', 'S', 'O', 'Float'),
    res(5750, 'Application Type', 'RW', 'S', 'O', 'String'),
    res(5751, 'Sensor Type', 'R', 'S', 'O', 'String'),
    res(5605, 'Reset Min and Max Measured Values', 'E', 'S', 'O', 'none'),
    res(5518, 'Timestamp', 'R', 'S', 'O', 'Time'),
    res(6050, 'Fractional Timestamp', 'R', 'S', 'O', 'Float', '0..1', 's'),
    res(6042, 'Measurement Quality Indicator', 'R', 'S', 'O', 'Integer', '0..23'),
    res(6049, 'Measurement Quality Level', 'R', 'S', 'O', 'Integer', '0..100'),
  ]),
  // 3303
  obj(3303, 'Temperature', '1.1', '1.0', 'M', 'O', [
    res(5700, 'Sensor Value', 'R', 'S', 'M', 'Float'),
    res(5601, 'Min Measured Value', 'R', 'S', 'O', 'Float'),
    res(5602, 'Max Measured Value', 'R', 'S', 'O', 'Float'),
    res(5603, 'Min Range Value', 'R', 'S', 'O', 'Float'),
    res(5604, 'Max Range Value', 'R', 'S', 'O', 'Float'),
    res(5701, 'Sensor Units', 'R', 'S', 'O', 'String'),
    res(5605, 'Reset Min and Max Measured Values', 'E', 'S', 'O', 'none'),
    res(5750, 'Application Type', 'RW', 'S', 'O', 'String'),
    res(5518, 'Timestamp', 'R', 'S', 'O', 'Time'),
    res(6050, 'Fractional Timestamp', 'R', 'S', 'O', 'Float', '0..1', 's'),
    res(6042, 'Measurement Quality Indicator', 'R', 'S', 'O', 'Integer', '0..23'),
    res(6049, 'Measurement Quality Level', 'R', 'S', 'O', 'Integer', '0..100'),
  ]),
  // 3304
  obj(3304, 'Humidity', '1.1', '1.0', 'M', 'O', [
    res(5700, 'Sensor Value', 'R', 'S', 'M', 'Float'),
    res(5601, 'Min Measured Value', 'R', 'S', 'O', 'Float'),
    res(5602, 'Max Measured Value', 'R', 'S', 'O', 'Float'),
    res(5603, 'Min Range Value', 'R', 'S', 'O', 'Float'),
    res(5604, 'Max Range Value', 'R', 'S', 'O', 'Float'),
    res(5701, 'Sensor Units', 'R', 'S', 'O', 'String'),
    res(5605, 'Reset Min and Max Measured Values', 'E', 'S', 'O', 'none'),
    res(5750, 'Application Type', 'RW', 'S', 'O', 'String'),
    res(5518, 'Timestamp', 'R', 'S', 'O', 'Time'),
    res(6050, 'Fractional Timestamp', 'R', 'S', 'O', 'Float', '0..1', 's'),
    res(6042, 'Measurement Quality Indicator', 'R', 'S', 'O', 'Integer', '0..23'),
    res(6049, 'Measurement Quality Level', 'R', 'S', 'O', 'Integer', '0..100'),
  ]),
  // 3311
  obj(3311, 'Light Control', '1.0', '1.0', 'M', 'O', [
    res(5850, 'On/Off', 'RW', 'S', 'M', 'Boolean'),
    res(5851, 'Dimmer', 'RW', 'S', 'O', 'Integer', '0..100', '/100'),
    res(5852, 'On time', 'RW', 'S', 'O', 'Integer', '', 's'),
    res(5805, 'Cumulative active power', 'R', 'S', 'O', 'Float', '', 'Wh'),
    res(5820, 'Power factor', 'R', 'S', 'O', 'Float'),
    res(5706, 'Colour', 'RW', 'S', 'O', 'String'),
    res(5701, 'Sensor Units', 'R', 'S', 'O', 'String'),
    res(5750, 'Application Type', 'RW', 'S', 'O', 'String'),
  ]),
];

/** Ids of the core objects every client has (TS Core 1.1 appendices: Security, Server, Device). */
export const CORE_OBJECT_IDS = {
  Security: 0,
  Server: 1,
  AccessControl: 2,
  Device: 3,
  ConnectivityMonitoring: 4,
  FirmwareUpdate: 5,
  Location: 6,
  ConnectivityStatistics: 7,
  Oscore: 21,
  GenericSensor: 3300,
  Temperature: 3303,
  Humidity: 3304,
  LightControl: 3311,
} as const;

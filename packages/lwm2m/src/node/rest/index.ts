export { createRestApi, type ListenOptions, type RestApiOptions, startRestApi } from './app.js';
export { type ErrorBody, errorResponse, HttpError } from './errors.js';
export { EventHub, type EventHubOptions, type EventSink, type StreamFilter } from './events.js';
export {
  guardOf,
  hostNameOf,
  isLoopbackHost,
  RequestGuard,
  type RequestGuardOptions,
  RestApiConfigError,
  type RestApiConfigErrorReason,
} from './guard.js';
export {
  entriesToJson,
  instanceFromJson,
  type JsonNode,
  JsonNodeError,
  type JsonValue,
  nodeFromJson,
  nodeToJson,
  valueFromJson,
  valueToJson,
} from './json-nodes.js';
export { FORMAT_NAMES } from './schemas.js';

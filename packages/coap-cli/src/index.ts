/**
 * The `coap` command as a library: run it with your own streams (`runCli`), or start its file server in
 * a process of your own (`startFileServer`, `serveDirectory`). The bin is `src/coap.ts`.
 */
export {
  type CliIo,
  type FileServerStartOptions,
  type RunningServer,
  runCli,
  startFileServer,
} from './main.js';
export { type CliOscore, loadCliOscore, OscoreSetupError } from './oscore.js';
export { type FileServer, type FileServerOptions, serveDirectory } from './serve.js';

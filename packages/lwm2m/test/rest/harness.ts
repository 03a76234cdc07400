/**
 * The REST API over a real `Lwm2mServer` and real `Lwm2mClient` devices on the in-memory network with fake
 * time: requests go through `app.inject` while the clock runs.
 */
import type { Lwm2mClient } from '@thimble/lwm2m';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createRestApi, type RestApiOptions } from '../../src/node/index.js';
import { drive, registered, type ServerSetup, serverSetup } from '../server/harness.js';

export interface RestSetup extends ServerSetup {
  app: FastifyInstance;
  /** `dev1`, registered. */
  client: Lwm2mClient;
  /** An injected request, with fake time running until it is answered. */
  call(options: InjectOptions): Promise<LightMyRequestResponse>;
}

export async function restSetup(options: Omit<RestApiOptions, 'server'> = {}): Promise<RestSetup> {
  const s = serverSetup();
  const client = s.device(1);
  await registered(s, client);
  const app = await createRestApi({ server: s.server, ...options });
  return { ...s, app, client, call: (o) => drive(s.clock, app.inject(o)) };
}

/**
 * Send (LwM2M TS Core 1.1 §6.4.6, Transport §6.4.6): the client reports values on its own initiative,
 * `POST /dp` with SenML CBOR, to a registered server of version 1.1 or later.
 */
import { Code, formatCode } from '@thimble/coap-core';
import { encodeComposite } from '../content/codecs.js';
import type { Lwm2mCompositeEntry } from '../content/senml.js';
import { type Lwm2mPath, parseLwm2mPath } from '../model/path.js';
import type { ClientContext } from './context.js';
import { Lwm2mClientError } from './errors.js';
import type { ServerConnection } from './registration/servers.js';

const SENML_CBOR = 112;

/**
 * Sends the values at `paths` to a server: the one with `shortServerId`, else the first registered one.
 */
export async function sendValues(
  ctx: ClientContext,
  paths: readonly (string | Lwm2mPath)[],
  shortServerId: number | undefined,
): Promise<void> {
  if (ctx.version === '1.0')
    throw new Lwm2mClientError('not-allowed', '4.05', 'Send needs LwM2M 1.1 or later');
  let conn: ServerConnection | undefined;
  for (const c of ctx.connections)
    if (c.state === 'registered' && (shortServerId === undefined || c.shortServerId === shortServerId)) {
      conn = c;
      break;
    }
  if (conn === undefined) throw new Lwm2mClientError('not-registered', '5.00', 'not registered');
  if (conn.version === '1.0')
    throw new Lwm2mClientError('not-allowed', '4.05', 'Send needs LwM2M 1.1 or later');
  const entries: Lwm2mCompositeEntry[] = [];
  for (const p of paths) {
    const path = typeof p === 'string' ? parseLwm2mPath(p) : p;
    entries.push({ path, node: await ctx.reader.readNode(path) } as Lwm2mCompositeEntry);
  }
  const res = await conn.endpoint.request({
    method: 'POST',
    uri: conn.uri(['dp']),
    payload: encodeComposite(SENML_CBOR, entries, ctx.model),
    contentFormat: SENML_CBOR,
    timeout: ctx.requestTimeout,
  });
  if (res.code !== Code.Changed) {
    throw new Lwm2mClientError('application', '5.00', `Send answered ${formatCode(res.code)}`);
  }
}

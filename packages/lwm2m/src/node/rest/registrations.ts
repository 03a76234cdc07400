/**
 * `/api/registrations`: the registered devices a page at a time, for a console that must stay fast with
 * 100,000 registrations (`GET /api/clients` answers them all at once and stays as it was), and
 * `/api/stats`: counts by LwM2M version, binding and queue mode.
 *
 * Pages are in endpoint-name order. The sorted list of names is rebuilt lazily, only after a registration
 * came or went, so a page costs a binary search plus the filter checks of the names it walks past.
 */
import type { FastifyInstance } from 'fastify';
import type { Registration } from '../../server/registration/store.js';
import type { Lwm2mServer } from '../../server/server.js';
import { registrationToJson } from './clients.js';
import { errors, ref } from './schemas.js';

export interface RegistrationQuery {
  /** Items per page (1…1000). */
  readonly limit: number;
  /** The `nextCursor` of the previous page: the page starts after this endpoint name. */
  readonly cursor?: string;
  /** Only endpoint names starting with this text. */
  readonly prefix?: string;
  readonly version?: string;
  readonly binding?: string;
  readonly queueMode?: boolean;
  /** Only registrations registered or updated at or after this time (clock ms). */
  readonly seenSince?: number;
}

export interface RegistrationPage {
  /** Registrations that match the filters, on every page. */
  readonly total: number;
  readonly items: Registration[];
  /** Where the next page starts; absent on the last page. */
  readonly nextCursor?: string;
}

/** The first index in sorted `names` whose name is not below `key` (or after `key` when `after`). */
function lowerBound(names: readonly string[], key: string, after: boolean): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const name = names[mid]!;
    if (name < key || (after && name === key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Pages over a server's registrations in endpoint-name order. */
export class RegistrationIndex {
  private sorted: string[] | undefined;
  private readonly invalidate = () => {
    this.sorted = undefined;
  };

  constructor(private readonly server: Lwm2mServer) {
    server.on('registered', this.invalidate);
    server.on('deregistered', this.invalidate);
    server.on('expired', this.invalidate);
  }

  close(): void {
    this.server.off('registered', this.invalidate);
    this.server.off('deregistered', this.invalidate);
    this.server.off('expired', this.invalidate);
  }

  private names(): string[] {
    if (this.sorted === undefined) {
      const names = this.server.registrations().map((r) => r.endpoint);
      // code-unit order, the order of `<`, which the binary search relies on
      names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      this.sorted = names;
    }
    return this.sorted;
  }

  page(q: RegistrationQuery): RegistrationPage {
    const names = this.names();
    const prefix = q.prefix ?? '';
    const start = lowerBound(names, prefix, false);
    let end = start;
    while (end < names.length && names[end]!.startsWith(prefix)) end++;
    const from = q.cursor === undefined ? start : Math.max(start, lowerBound(names, q.cursor, true));
    const filtered =
      q.version !== undefined ||
      q.binding !== undefined ||
      q.queueMode !== undefined ||
      q.seenSince !== undefined;
    const matches = (r: Registration | undefined): r is Registration =>
      r !== undefined &&
      (q.version === undefined || r.version === q.version) &&
      (q.binding === undefined || r.binding === q.binding) &&
      (q.queueMode === undefined || r.queueMode === q.queueMode) &&
      (q.seenSince === undefined || Math.max(r.updatedAt, r.registeredAt) >= q.seenSince);
    const items: Registration[] = [];
    let total = filtered ? 0 : end - start;
    let more = false;
    // without filters only the page's names are looked up; with filters every name of the range is
    for (let i = filtered ? start : from; i < end; i++) {
      if (!filtered && items.length === q.limit) {
        more = true;
        break;
      }
      const r = this.server.registration(names[i]!);
      if (!matches(r)) continue;
      if (filtered) total++;
      if (i < from) continue;
      if (items.length < q.limit) items.push(r);
      else more = true;
    }
    const last = items[items.length - 1];
    return { total, items, ...(more && last !== undefined ? { nextCursor: last.endpoint } : {}) };
  }
}

export interface ServerStats {
  readonly registrations: number;
  readonly byVersion: { [version: string]: number };
  readonly byBinding: { [binding: string]: number };
  readonly queueMode: number;
}

export function serverStats(server: Lwm2mServer): ServerStats {
  const byVersion: { [version: string]: number } = {};
  const byBinding: { [binding: string]: number } = {};
  let queueMode = 0;
  let n = 0;
  for (const r of server.registrations()) {
    n++;
    byVersion[r.version] = (byVersion[r.version] ?? 0) + 1;
    byBinding[r.binding] = (byBinding[r.binding] ?? 0) + 1;
    if (r.queueMode) queueMode++;
  }
  return { registrations: n, byVersion, byBinding, queueMode };
}

const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const;

/** Which optional parts this server has (a console hides what is absent instead of asking for a 501). */
export interface ServerServices {
  readonly firmware: boolean;
  readonly bootstrap: boolean;
  readonly security: boolean;
  readonly messageLog: boolean;
}

export function registrationRoutes(
  app: FastifyInstance,
  server: Lwm2mServer,
  services: ServerServices,
): void {
  const index = new RegistrationIndex(server);
  app.addHook('onClose', async () => index.close());

  app.get<{ Querystring: Partial<RegistrationQuery> }>(
    '/api/registrations',
    {
      schema: {
        summary:
          'Registered devices a page at a time, in endpoint-name order, with search by endpoint prefix and filters',
        tags: ['clients'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
            cursor: {
              type: 'string',
              maxLength: 128,
              description: 'nextCursor of the previous page (opaque)',
            },
            prefix: { type: 'string', maxLength: 128, description: 'endpoint names starting with this' },
            version: { type: 'string', maxLength: 8, description: 'LwM2M version, e.g. 1.1' },
            binding: { type: 'string', maxLength: 8, description: 'binding, e.g. U or UQ' },
            queueMode: { type: 'boolean' },
            seenSince: {
              type: 'number',
              minimum: 0,
              description: 'registered or updated at or after this time (epoch ms)',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['total', 'items'],
            properties: {
              total: { type: 'integer', description: 'registrations matching the filters' },
              items: { type: 'array', items: ref('Registration') },
              nextCursor: { type: 'string' },
            },
          },
          ...errors(400, 401),
        },
      },
    },
    async (req) => {
      const { limit = 50, ...rest } = req.query;
      const page = index.page({ limit, ...rest });
      return { ...page, items: page.items.map(registrationToJson) };
    },
  );

  app.get(
    '/api/stats',
    {
      schema: {
        summary:
          'Counts of registered devices (in all, by LwM2M version, by binding, in queue mode) and which optional services this server has',
        tags: ['clients'],
        response: {
          200: {
            type: 'object',
            properties: {
              registrations: { type: 'integer' },
              byVersion: counts,
              byBinding: counts,
              queueMode: { type: 'integer' },
              services: {
                type: 'object',
                properties: {
                  firmware: { type: 'boolean' },
                  bootstrap: { type: 'boolean' },
                  security: { type: 'boolean' },
                  messageLog: { type: 'boolean' },
                },
              },
            },
          },
          ...errors(401),
        },
      },
    },
    async () => ({ ...serverStats(server), services }),
  );
}

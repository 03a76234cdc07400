/**
 * The device list: one page at a time from `/api/registrations` (search by endpoint prefix, filters), so
 * it stays fast at 100,000 registrations; registrations, updates and de-registrations arrive over
 * `/api/events` and refresh the page shown.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, stream } from '../api.js';
import { ago, ErrorBox, Section, useNow } from '../components.js';
import type { Registration, RegistrationPage, Stats } from '../types.js';

const PAGE_SIZES = [25, 50, 100];
const SEEN = [
  ['', 'any time'],
  ['60', 'last minute'],
  ['600', 'last 10 minutes'],
  ['3600', 'last hour'],
  ['86400', 'last day'],
] as const;

interface Filters {
  prefix: string;
  version: string;
  binding: string;
  queueMode: string;
  seen: string;
  limit: number;
}

interface Change {
  at: number;
  kind: string;
  endpoint: string;
}

function query(f: Filters, cursor: string | undefined): string {
  const q = new URLSearchParams({ limit: String(f.limit) });
  if (f.prefix !== '') q.set('prefix', f.prefix);
  if (f.version !== '') q.set('version', f.version);
  if (f.binding !== '') q.set('binding', f.binding);
  if (f.queueMode !== '') q.set('queueMode', f.queueMode);
  if (f.seen !== '') q.set('seenSince', String(Date.now() - Number(f.seen) * 1000));
  if (cursor !== undefined) q.set('cursor', cursor);
  return q.toString();
}

export function DevicesView() {
  const [filters, setFilters] = useState<Filters>({
    prefix: '',
    version: '',
    binding: '',
    queueMode: '',
    seen: '',
    limit: 50,
  });
  // cursors of the pages before the one shown (undefined = the first page)
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<RegistrationPage | undefined>(undefined);
  const [stats, setStats] = useState<Stats | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [changes, setChanges] = useState<Change[]>([]);
  const [live, setLive] = useState('connecting');
  const [tick, setTick] = useState(0);
  const now = useNow();
  const cursor = cursors[cursors.length - 1];
  const seq = useRef(0);

  useEffect(() => {
    const mine = ++seq.current;
    const t = setTimeout(async () => {
      try {
        const [p, s] = await Promise.all([
          api<RegistrationPage>('GET', `/api/registrations?${query(filters, cursor)}`),
          api<Stats>('GET', '/api/stats'),
        ]);
        if (mine !== seq.current) return;
        setPage(p);
        setStats(s);
        setError(undefined);
      } catch (e) {
        if (mine === seq.current) setError(e);
      }
    }, 50);
    return () => clearTimeout(t);
  }, [filters, cursor, tick]);

  // live changes: refresh the page shown at most every 2 s while registrations come and go
  useEffect(() => {
    const controller = new AbortController();
    let pending: ReturnType<typeof setTimeout> | undefined;
    stream(
      '/api/events',
      {
        onState: (s, detail) => setLive(s === 'error' ? `error: ${detail ?? ''}` : s),
        onEvent: (name, data) => {
          if (!['registered', 'updated', 'deregistered', 'expired'].includes(name)) return;
          const endpoint = (data as Registration).endpoint;
          setChanges((c) => [{ at: Date.now(), kind: name, endpoint }, ...c].slice(0, 8));
          pending ??= setTimeout(() => {
            pending = undefined;
            setTick((n) => n + 1);
          }, 2000);
        },
      },
      controller.signal,
    );
    return () => {
      controller.abort();
      if (pending !== undefined) clearTimeout(pending);
    };
  }, []);

  const set = (patch: Partial<Filters>) => {
    setFilters({ ...filters, ...patch });
    setCursors([undefined]);
  };
  const versions = Object.keys(stats?.byVersion ?? {}).sort();
  const bindings = Object.keys(stats?.byBinding ?? {}).sort();
  const first = (cursors.length - 1) * filters.limit;

  return (
    <div class="stack">
      <Section
        title="Devices"
        actions={
          <span class="muted" aria-live="polite">
            {stats === undefined
              ? ''
              : `${stats.registrations} registered · ${stats.queueMode} in queue mode`}
          </span>
        }
      >
        <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Search and filters">
          <label>
            Endpoint starts with
            <input
              type="search"
              name="prefix"
              value={filters.prefix}
              onInput={(e) => set({ prefix: e.currentTarget.value })}
              placeholder="e.g. sensor-"
            />
          </label>
          <label>
            LwM2M version
            <select value={filters.version} onChange={(e) => set({ version: e.currentTarget.value })}>
              <option value="">any</option>
              {versions.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </label>
          <label>
            Binding
            <select value={filters.binding} onChange={(e) => set({ binding: e.currentTarget.value })}>
              <option value="">any</option>
              {bindings.map((b) => (
                <option key={b} value={b}>
                  {b}
                </option>
              ))}
            </select>
          </label>
          <label>
            Queue mode
            <select value={filters.queueMode} onChange={(e) => set({ queueMode: e.currentTarget.value })}>
              <option value="">any</option>
              <option value="true">yes</option>
              <option value="false">no</option>
            </select>
          </label>
          <label>
            Last seen
            <select value={filters.seen} onChange={(e) => set({ seen: e.currentTarget.value })}>
              {SEEN.map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Per page
            <select value={filters.limit} onChange={(e) => set({ limit: Number(e.currentTarget.value) })}>
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
        </form>
        <ErrorBox error={error} />
        <div class="table-wrap">
          <table class="devices">
            <caption class="sr">Registered devices</caption>
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">LwM2M</th>
                <th scope="col">Binding</th>
                <th scope="col">Queue</th>
                <th scope="col" class="wide">
                  Address
                </th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {page?.items.map((r) => (
                <tr key={r.endpoint}>
                  <td>
                    <a href={`#/devices/${encodeURIComponent(r.endpoint)}`}>{r.endpoint}</a>
                  </td>
                  <td>{r.version}</td>
                  <td>{r.binding}</td>
                  <td>{r.queueMode ? 'yes' : 'no'}</td>
                  <td class="wide">
                    {r.address}:{r.port}
                  </td>
                  <td>{ago(Math.max(r.updatedAt, r.registeredAt), now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <nav class="pager" aria-label="Pages">
          <button
            type="button"
            disabled={cursors.length <= 1}
            onClick={() => setCursors(cursors.slice(0, -1))}
          >
            ← Previous
          </button>
          <span class="muted" data-testid="page-info">
            {page === undefined
              ? 'loading…'
              : page.total === 0
                ? 'no devices match'
                : `${first + 1}–${first + page.items.length} of ${page.total}`}
          </span>
          <button
            type="button"
            disabled={page?.nextCursor === undefined}
            onClick={() => setCursors([...cursors, page?.nextCursor])}
          >
            Next →
          </button>
        </nav>
      </Section>
      <Section title="Live changes" actions={<span class="muted">events: {live}</span>}>
        <ul class="changes" aria-live="polite">
          {changes.length === 0 ? <li class="muted">none yet</li> : null}
          {changes.map((c) => (
            <li key={`${c.at}-${c.endpoint}-${c.kind}`}>
              <span class={`tag ${c.kind}`}>{c.kind}</span> {c.endpoint}{' '}
              <span class="muted">{ago(c.at, now)}</span>
            </li>
          ))}
        </ul>
      </Section>
    </div>
  );
}

/**
 * One device: its registration, the object tree named and typed from the server's model, the operations
 * on objects, instances and resources (Read, Write, Execute, Observe, Write-Attributes, Discover, Create,
 * Delete, Read-Composite) in a content format the device announced, live values with charts of numeric
 * notifications, and the device's CoAP message log.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, stream } from '../api.js';
import { ago, ErrorBox, type Point, Section, Sparkline, useAction, useNow } from '../components.js';
import {
  type CoapLogEntry,
  FORMATS,
  type JsonNode,
  type JsonValue,
  type ObjectDefinition,
  type Registration,
  type ResourceDefinition,
  type Stats,
} from '../types.js';
import { CoapLog } from './coap-log.js';

const MAX_POINTS = 60;

interface Tree {
  objectId: number;
  version?: string;
  instances: number[];
  def?: ObjectDefinition;
}

function treeOf(r: Registration, defs: Map<number, ObjectDefinition>): Tree[] {
  const byId = new Map<number, Tree>();
  for (const o of r.objects) {
    const parts = o.path
      .split('/')
      .filter((p) => p !== '')
      .map(Number);
    const objectId = parts[0];
    if (objectId === undefined || Number.isNaN(objectId)) continue;
    let t = byId.get(objectId);
    if (t === undefined) {
      t = { objectId, instances: [], ...(defs.has(objectId) ? { def: defs.get(objectId)! } : {}) };
      byId.set(objectId, t);
    }
    if (o.version !== undefined) t.version = o.version;
    if (parts[1] !== undefined && !t.instances.includes(parts[1])) t.instances.push(parts[1]);
  }
  return [...byId.values()].sort((a, b) => a.objectId - b.objectId);
}

const showValue = (v: JsonValue | undefined): string =>
  v === undefined ? '' : typeof v === 'object' ? `${v.objectId}:${v.instanceId}` : String(v);

/** Every resource (and resource instance) value in a node at `path`, by path: children extend the path. */
function flatten(path: string, node: JsonNode, out: Map<string, JsonValue>): void {
  const walk = (n: JsonNode, p: string) => {
    if (n.value !== undefined) out.set(p, n.value);
    for (const i of n.instances ?? []) walk(i, `${p}/${i.id}`);
    for (const r of n.resources ?? []) walk(r, `${p}/${r.id}`);
  };
  walk(node, path);
}

function parseValue(text: string, type: string): JsonValue {
  switch (type) {
    case 'Integer':
    case 'Unsigned Integer':
    case 'Float':
    case 'Time': {
      const n = Number(text);
      if (text.trim() === '' || Number.isNaN(n)) throw new Error(`"${text}" is not a number`);
      return n;
    }
    case 'Boolean':
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      throw new Error(`"${text}" is not true or false`);
    case 'Objlnk': {
      const m = /^(\d+):(\d+)$/.exec(text.trim());
      if (m === null) throw new Error('an object link is written objectId:instanceId');
      return { objectId: Number(m[1]), instanceId: Number(m[2]) };
    }
    default:
      return text;
  }
}

const NUMERIC = new Set(['Integer', 'Unsigned Integer', 'Float']);

type Panel =
  | { kind: 'result'; title: string; body: unknown }
  | { kind: 'attributes'; path: string }
  | { kind: 'create'; objectId: number }
  | { kind: 'write'; path: string };

export function DeviceView({ endpoint }: { endpoint: string }) {
  const [reg, setReg] = useState<Registration | undefined>(undefined);
  const [observed, setObserved] = useState<Set<string>>(new Set());
  const [defs, setDefs] = useState<Map<number, ObjectDefinition>>(new Map());
  const [values, setValues] = useState<Map<string, JsonValue>>(new Map());
  const [series, setSeries] = useState<Map<string, Point[]>>(new Map());
  const [updated, setUpdated] = useState<Map<string, number>>(new Map());
  const [format, setFormat] = useState('');
  const [panel, setPanel] = useState<Panel | undefined>(undefined);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [composites, setComposites] = useState<string[]>([]);
  const [log, setLog] = useState<CoapLogEntry[]>([]);
  const [logState, setLogState] = useState('connecting');
  const [gone, setGone] = useState<string | undefined>(undefined);
  const load = useAction();
  const op = useAction();
  const now = useNow();
  const enc = encodeURIComponent(endpoint);
  const base = `/api/clients/${enc}`;
  const fq = format === '' ? '' : `?format=${format}`;

  const refresh = () =>
    load.run(async () => {
      const d = await api<{ registration: Registration; observations: string[] }>('GET', base);
      setReg(d.registration);
      setObserved(new Set(d.observations));
      const ids = [...new Set(d.registration.objects.map((o) => Number(o.path.split('/')[1])))].filter(
        (n) => !Number.isNaN(n),
      );
      if (ids.length > 0) {
        const list = await api<ObjectDefinition[]>('GET', `/api/objects?ids=${ids.join(',')}`);
        setDefs(new Map(list.map((o) => [o.id, o])));
      }
    });

  const merge = (path: string, node: JsonNode, time: number, notified: boolean) => {
    const flat = new Map<string, JsonValue>();
    flatten(path, node, flat);
    setValues((old) => new Map([...old, ...flat]));
    setUpdated((old) => {
      const next = new Map(old);
      for (const p of flat.keys()) next.set(p, time);
      return next;
    });
    if (!notified) return;
    setSeries((old) => {
      const next = new Map(old);
      for (const [p, v] of flat) {
        if (typeof v !== 'number') continue;
        next.set(p, [...(next.get(p) ?? []), { t: time, v }].slice(-MAX_POINTS));
      }
      return next;
    });
  };

  useEffect(() => {
    void refresh();
    const controller = new AbortController();
    stream(
      `/api/events?endpoint=${enc}`,
      {
        onEvent: (name, data) => {
          const d = data as { endpoint?: string; path?: string; node?: JsonNode };
          if (d.endpoint !== endpoint) return;
          if (name === 'notification' && d.path !== undefined && d.node !== undefined)
            merge(d.path, d.node, Date.now(), true);
          else if (name === 'composite-notification') {
            const now = Date.now();
            for (const e of (data as { entries: { path: string; node: JsonNode }[] }).entries)
              merge(e.path, e.node, now, true);
          } else if (name === 'updated' || name === 'registered') {
            setGone(undefined);
            setReg(data as Registration);
          } else if (name === 'deregistered' || name === 'expired') setGone(name);
        },
      },
      controller.signal,
    );
    const log = () =>
      stream(
        `${base}/log`,
        {
          onState: (s, detail) => setLogState(s === 'error' ? `unavailable: ${detail ?? ''}` : s),
          onEvent: (name, data) => {
            if (name === 'coap') setLog((old) => [...old, data as CoapLogEntry].slice(-200));
          },
        },
        controller.signal,
      );
    // only a server with a message log has the route
    void api<Stats>('GET', '/api/stats').then(
      (s) => (s.services.messageLog ? log() : setLogState('not kept by this server')),
      () => setLogState('unavailable'),
    );
    return () => controller.abort();
  }, [endpoint]);

  const tree = useMemo(() => (reg === undefined ? [] : treeOf(reg, defs)), [reg, defs]);

  const read = (path: string) =>
    op.run(async () => {
      const node = await api<JsonNode>('GET', `${base}${path}${fq}`);
      merge(path, node, Date.now(), false);
      setPanel({ kind: 'result', title: `Read ${path}`, body: node });
    });
  const observe = (path: string) =>
    op.run(async () => {
      const r = await api<{ node?: JsonNode }>('POST', `${base}${path}/observe${fq}`);
      if (r.node !== undefined) merge(path, r.node, Date.now(), true);
      setObserved((o) => new Set([...o, path]));
    });
  const cancel = (path: string) =>
    op.run(async () => {
      await api('DELETE', `${base}${path}/observe`);
      setObserved((o) => new Set([...o].filter((p) => p !== path)));
    });
  const discover = (path: string) =>
    op.run(async () => {
      const links = await api<unknown>('GET', `${base}${path}/discover`);
      setPanel({ kind: 'result', title: `Discover ${path}`, body: links });
    });
  const remove = (path: string) =>
    op.run(async () => {
      if (!window.confirm(`Delete ${path} on ${endpoint}?`)) return;
      await api('DELETE', `${base}${path}`);
      setPanel({ kind: 'result', title: `Deleted ${path}`, body: 'done' });
      void refresh();
    });
  const write = (path: string, r: ResourceDefinition, text: string) =>
    op.run(async () => {
      const value = parseValue(text, r.type);
      await api('PUT', `${base}${path}${fq}`, { value });
      setValues((old) => new Map(old).set(path, value));
      setPanel({ kind: 'result', title: `Wrote ${path}`, body: { value } });
    });
  const execute = (path: string, args: string) =>
    op.run(async () => {
      await api('POST', `${base}${path}`, args === '' ? {} : { args });
      setPanel({ kind: 'result', title: `Executed ${path}`, body: args === '' ? 'done' : { args } });
    });
  const readComposite = () =>
    op.run(async () => {
      const paths = [...selected].join(',');
      const entries = await api<{ path: string; node: JsonNode }[]>(
        'GET',
        `${base}/composite?paths=${encodeURIComponent(paths)}${format === '' ? '' : `&format=${format}`}`,
      );
      for (const e of entries) merge(e.path, e.node, Date.now(), false);
      setPanel({ kind: 'result', title: `Read-Composite ${paths}`, body: entries });
    });

  const compositeKey = [...selected].join(',');
  const observeComposite = () =>
    op.run(async () => {
      const r = await api<{ entries?: { path: string; node: JsonNode }[] }>(
        'POST',
        `${base}/composite/observe?paths=${encodeURIComponent(compositeKey)}${format === '' ? '' : `&format=${format}`}`,
      );
      for (const e of r.entries ?? []) merge(e.path, e.node, Date.now(), true);
      setComposites((c) => [...new Set([...c, compositeKey])]);
    });
  const cancelComposite = (key: string) =>
    op.run(async () => {
      await api('DELETE', `${base}/composite/observe?paths=${encodeURIComponent(key)}`);
      setComposites((c) => c.filter((k) => k !== key));
    });

  const formats = (reg?.contentFormats ?? []).filter((f) => FORMATS[f] !== undefined);
  const observeButtons = (path: string) =>
    observed.has(path) ? (
      <button type="button" class="on" onClick={() => cancel(path)} aria-pressed="true">
        Observing ✕
      </button>
    ) : (
      <button type="button" onClick={() => observe(path)}>
        Observe
      </button>
    );

  return (
    <div class="stack">
      <p>
        <a href="#/devices">← Devices</a>
      </p>
      <Section
        title={endpoint}
        actions={gone === undefined ? null : <span class="tag deregistered">{gone}</span>}
      >
        <ErrorBox error={load.error} />
        {reg === undefined ? (
          <p class="muted">{load.busy ? 'loading…' : ''}</p>
        ) : (
          <dl class="facts">
            <dt>LwM2M</dt>
            <dd>{reg.version}</dd>
            <dt>Binding</dt>
            <dd>
              {reg.binding}
              {reg.queueMode ? ' (queue mode)' : ''}
            </dd>
            <dt>Address</dt>
            <dd>
              {reg.address}:{reg.port}
            </dd>
            <dt>Lifetime</dt>
            <dd>{reg.lifetime} s</dd>
            <dt>Registered</dt>
            <dd>{ago(reg.registeredAt, now)}</dd>
            <dt>Updated</dt>
            <dd>{ago(reg.updatedAt, now)}</dd>
            <dt>Registration id</dt>
            <dd>
              <code>{reg.registrationId}</code>
            </dd>
            <dt>Formats</dt>
            <dd>{reg.contentFormats.map((f) => FORMATS[f] ?? f).join(', ') || 'not announced'}</dd>
          </dl>
        )}
      </Section>

      <Section
        title="Objects"
        actions={
          <div class="row">
            <label>
              Format{' '}
              <select value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
                <option value="">server's choice</option>
                {formats.map((f) => (
                  <option key={f} value={FORMATS[f]}>
                    {FORMATS[f]}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" disabled={selected.size === 0} onClick={readComposite}>
              Read composite ({selected.size})
            </button>
            <button type="button" disabled={selected.size === 0} onClick={observeComposite}>
              Observe composite
            </button>
          </div>
        }
      >
        <ErrorBox error={op.error} />
        {composites.map((key) => (
          <p key={key} class="row">
            Observe-Composite of <code>{key}</code>
            <button type="button" class="on" onClick={() => cancelComposite(key)}>
              Cancel
            </button>
          </p>
        ))}
        {panel === undefined ? null : (
          <OperationPanel
            panel={panel}
            base={base}
            defs={defs}
            values={values}
            format={fq}
            onClose={() => setPanel(undefined)}
            onDone={(title, body) => {
              setPanel({ kind: 'result', title, body });
              void refresh();
            }}
          />
        )}
        <div class="tree" aria-busy={op.busy}>
          {tree.map((t) => (
            <details key={t.objectId} open={t.objectId !== 0 && t.objectId !== 21}>
              <summary>
                <span class="obj-name">
                  {t.def?.name ?? 'Unknown object'} <span class="muted">/{t.objectId}</span>
                  {t.version === undefined ? '' : <span class="muted"> v{t.version}</span>}
                </span>
                <span class="ops">
                  <button type="button" onClick={() => read(`/${t.objectId}`)}>
                    Read
                  </button>
                  {observeButtons(`/${t.objectId}`)}
                  <button type="button" onClick={() => discover(`/${t.objectId}`)}>
                    Discover
                  </button>
                  <button
                    type="button"
                    onClick={() => setPanel({ kind: 'attributes', path: `/${t.objectId}` })}
                  >
                    Attributes
                  </button>
                  {t.def?.multiple !== false ? (
                    <button type="button" onClick={() => setPanel({ kind: 'create', objectId: t.objectId })}>
                      Create
                    </button>
                  ) : null}
                </span>
              </summary>
              {t.instances.map((i) => {
                const ip = `/${t.objectId}/${i}`;
                return (
                  <div class="instance" key={i}>
                    <div class="inst-head">
                      <strong>Instance {i}</strong>
                      <span class="ops">
                        <button type="button" onClick={() => read(ip)}>
                          Read
                        </button>
                        {observeButtons(ip)}
                        <button type="button" onClick={() => discover(ip)}>
                          Discover
                        </button>
                        <button type="button" onClick={() => setPanel({ kind: 'write', path: ip })}>
                          Write
                        </button>
                        <button type="button" onClick={() => setPanel({ kind: 'attributes', path: ip })}>
                          Attributes
                        </button>
                        <button type="button" class="danger" onClick={() => remove(ip)}>
                          Delete
                        </button>
                      </span>
                    </div>
                    {t.def === undefined ? (
                      <p class="muted">The server's model has no definition of object {t.objectId}.</p>
                    ) : (
                      <table class="resources">
                        <thead>
                          <tr>
                            <th scope="col" class="sr">
                              Select
                            </th>
                            <th scope="col">Resource</th>
                            <th scope="col">Value</th>
                            <th scope="col">Operations</th>
                          </tr>
                        </thead>
                        <tbody>
                          {t.def.resources.map((r) => (
                            <ResourceRow
                              key={r.id}
                              path={`${ip}/${r.id}`}
                              def={r}
                              values={values}
                              points={series.get(`${ip}/${r.id}`)}
                              updatedAt={updated.get(`${ip}/${r.id}`)}
                              selected={selected.has(`${ip}/${r.id}`)}
                              onSelect={(on) =>
                                setSelected((s) => {
                                  const next = new Set(s);
                                  if (on) next.add(`${ip}/${r.id}`);
                                  else next.delete(`${ip}/${r.id}`);
                                  return next;
                                })
                              }
                              read={read}
                              write={write}
                              execute={execute}
                              observeButtons={observeButtons}
                              discover={discover}
                              attributes={(p) => setPanel({ kind: 'attributes', path: p })}
                            />
                          ))}
                        </tbody>
                      </table>
                    )}
                  </div>
                );
              })}
            </details>
          ))}
        </div>
      </Section>

      <Section title="CoAP messages" actions={<span class="muted">log: {logState}</span>}>
        <CoapLog entries={log} />
      </Section>
    </div>
  );
}

interface RowProps {
  path: string;
  def: ResourceDefinition;
  values: Map<string, JsonValue>;
  points: Point[] | undefined;
  updatedAt: number | undefined;
  selected: boolean;
  onSelect(on: boolean): void;
  read(path: string): void;
  write(path: string, def: ResourceDefinition, text: string): void;
  execute(path: string, args: string): void;
  observeButtons(path: string): preact.JSX.Element;
  discover(path: string): void;
  attributes(path: string): void;
}

function ResourceRow(p: RowProps) {
  const { def: r, path } = p;
  const [text, setText] = useState('');
  const readable = r.operations === 'R' || r.operations === 'RW';
  const writable = r.operations === 'W' || r.operations === 'RW';
  const value = p.values.get(path);
  const instances = r.multiple
    ? [...p.values.entries()]
        .filter(([k]) => k.startsWith(`${path}/`))
        .map(([k, v]) => `${k.slice(path.length + 1)}: ${showValue(v)}`)
    : [];
  return (
    <tr data-path={path}>
      <td>
        {readable ? (
          <input
            type="checkbox"
            aria-label={`Select ${r.name} for Read-Composite`}
            checked={p.selected}
            onChange={(e) => p.onSelect(e.currentTarget.checked)}
          />
        ) : null}
      </td>
      <th scope="row" title={r.description}>
        <span class="res-name">{r.name}</span> <span class="muted">/{r.id}</span>
        <div class="muted small">
          {r.type}
          {r.units ? ` · ${r.units}` : ''}
          {r.multiple ? ' · multiple' : ''} · {r.operations}
        </div>
      </th>
      <td class="value">
        <output
          data-testid={`value-${path}`}
          class={p.updatedAt !== undefined ? 'fresh' : ''}
          key={p.updatedAt}
        >
          {r.multiple ? instances.join(', ') : showValue(value)}
        </output>
        {NUMERIC.has(r.type) && p.points !== undefined ? (
          <Sparkline points={p.points} label={r.name} />
        ) : null}
        {r.units && value !== undefined && !r.multiple ? <span class="muted"> {r.units}</span> : null}
      </td>
      <td class="res-ops">
        {readable ? (
          <button type="button" onClick={() => p.read(path)} aria-label={`Read ${r.name}`}>
            Read
          </button>
        ) : null}
        {readable ? p.observeButtons(path) : null}
        {writable || r.operations === 'E' ? (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              if (r.operations === 'E') p.execute(path, text);
              else p.write(path, r, text);
            }}
          >
            <input
              aria-label={r.operations === 'E' ? `Arguments for ${r.name}` : `New value of ${r.name}`}
              placeholder={r.operations === 'E' ? "args, e.g. 0='a'" : r.type}
              value={text}
              onInput={(e) => setText(e.currentTarget.value)}
            />
            <button type="submit">{r.operations === 'E' ? 'Execute' : 'Write'}</button>
          </form>
        ) : null}
        {readable ? (
          <button
            type="button"
            class="minor"
            onClick={() => p.attributes(path)}
            aria-label={`Attributes of ${r.name}`}
          >
            Attr
          </button>
        ) : null}
      </td>
    </tr>
  );
}

const ATTRIBUTES = ['pmin', 'pmax', 'gt', 'lt', 'st'] as const;

function OperationPanel(props: {
  panel: Panel;
  base: string;
  defs: Map<number, ObjectDefinition>;
  values: Map<string, JsonValue>;
  format: string;
  onClose(): void;
  onDone(title: string, body: unknown): void;
}) {
  const { panel } = props;
  const action = useAction();
  const initial = (): string => {
    if (panel.kind === 'write' || panel.kind === 'create') {
      const objectId = panel.kind === 'create' ? panel.objectId : Number(panel.path.split('/')[1]);
      const def = props.defs.get(objectId);
      const prefix = panel.kind === 'write' ? `${panel.path}/` : undefined;
      const resources = (def?.resources ?? [])
        .filter((r) => (r.operations === 'W' || r.operations === 'RW') && !r.multiple)
        .map((r) => {
          const known = prefix === undefined ? undefined : props.values.get(`${prefix}${r.id}`);
          return known === undefined ? undefined : { id: r.id, value: known };
        })
        .filter((x) => x !== undefined);
      return JSON.stringify({ resources }, null, 2);
    }
    return '';
  };
  const [text, setText] = useState(initial);
  const [attrs, setAttrs] = useState<Record<string, string>>({});

  let body: preact.JSX.Element;
  if (panel.kind === 'result') {
    body = (
      <pre class="result">
        {typeof panel.body === 'string' ? panel.body : JSON.stringify(panel.body, null, 2)}
      </pre>
    );
  } else if (panel.kind === 'attributes') {
    body = (
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            const out: Record<string, number | null> = {};
            for (const a of ATTRIBUTES) {
              const v = attrs[a];
              if (v === undefined || v === '') continue;
              out[a] = v === '-' ? null : Number(v);
            }
            await api('PUT', `${props.base}${panel.path}/attributes`, out);
            props.onDone(`Write-Attributes ${panel.path}`, out);
          });
        }}
      >
        {ATTRIBUTES.map((a) => (
          <label key={a}>
            {a}
            <input
              inputMode="decimal"
              value={attrs[a] ?? ''}
              placeholder="- removes"
              onInput={(e) => setAttrs({ ...attrs, [a]: e.currentTarget.value })}
            />
          </label>
        ))}
        <button type="submit">Write attributes</button>
      </form>
    );
  } else {
    const path = panel.kind === 'create' ? `/${panel.objectId}` : panel.path;
    body = (
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            const node = JSON.parse(text) as unknown;
            if (panel.kind === 'create') {
              const r = await api<{ path: string }>('POST', `${props.base}${path}${props.format}`, node);
              props.onDone(`Created ${r.path}`, r);
            } else {
              await api('PATCH', `${props.base}${path}${props.format}`, node);
              props.onDone(`Wrote ${path} (partial update)`, node);
            }
          });
        }}
      >
        <label class="block">
          {panel.kind === 'create'
            ? `New instance of /${panel.objectId} (optionally with "id")`
            : `Resources of ${path}`}
          <textarea
            rows={8}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            spellcheck={false}
          />
        </label>
        <button type="submit">{panel.kind === 'create' ? 'Create' : 'Write'}</button>
      </form>
    );
  }
  const title =
    panel.kind === 'result'
      ? panel.title
      : panel.kind === 'attributes'
        ? `Write-Attributes ${panel.path}`
        : panel.kind === 'create'
          ? `Create in /${panel.objectId}`
          : `Write ${panel.path}`;
  return (
    <section class="panel" aria-label={title}>
      <div class="card-head">
        <h3>{title}</h3>
        <button type="button" onClick={props.onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <ErrorBox error={action.error} />
      {body}
    </section>
  );
}

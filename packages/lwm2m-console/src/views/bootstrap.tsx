/** Bootstrap configurations (LwM2M TS Core 1.1 §6.1.7), when the server has a bootstrap store. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, Section, useAction } from '../components.js';
import type { Stats } from '../types.js';

interface Entry {
  endpoint: string;
  config: unknown;
}

const EXAMPLE = {
  security: {
    '0': { uri: 'coap://127.0.0.1:5683', bootstrapServer: false, securityMode: 'nosec', shortServerId: 1 },
  },
  servers: { '0': { shortServerId: 1, lifetime: 300, binding: 'U' } },
};

/** Bootstrap configurations may hold PSKs: the list hides them unless asked. */
function redact(config: unknown): unknown {
  return JSON.parse(JSON.stringify(config), (k, v) =>
    (k === 'pskKey' || k === 'masterSecret') && typeof v === 'string' ? `(${v.length / 2} bytes)` : v,
  );
}

export function BootstrapView() {
  const [list, setList] = useState<Entry[] | undefined>(undefined);
  const [absent, setAbsent] = useState(false);
  const load = useAction();
  const save = useAction();
  const [endpoint, setEndpoint] = useState('');
  const [text, setText] = useState(JSON.stringify(EXAMPLE, null, 2));

  const refresh = () =>
    load.run(async () => {
      const stats = await api<Stats>('GET', '/api/stats');
      if (!stats.services.bootstrap) return setAbsent(true);
      setList(await api<Entry[]>('GET', '/api/bootstrap'));
    });
  useEffect(() => {
    void refresh();
  }, []);

  if (absent)
    return (
      <Section title="Bootstrap">
        <p class="muted">
          This server has no bootstrap store: start it with one (e.g. --store sqlite:PATH) to manage bootstrap
          configurations here.
        </p>
      </Section>
    );

  return (
    <div class="stack">
      <Section title="Bootstrap configurations">
        <ErrorBox error={load.error} />
        {list === undefined ? null : list.length === 0 ? (
          <p class="muted">No configurations.</p>
        ) : (
          list.map((e) => (
            <details key={e.endpoint}>
              <summary>
                {e.endpoint}{' '}
                <button
                  type="button"
                  onClick={() => {
                    setEndpoint(e.endpoint);
                    setText(JSON.stringify(e.config, null, 2));
                  }}
                >
                  Edit
                </button>{' '}
                <button
                  type="button"
                  class="danger"
                  onClick={() =>
                    save.run(async () => {
                      await api('DELETE', `/api/bootstrap/${encodeURIComponent(e.endpoint)}`);
                      await refresh();
                    })
                  }
                >
                  Delete
                </button>
              </summary>
              <pre class="result">{JSON.stringify(redact(e.config), null, 2)}</pre>
            </details>
          ))
        )}
      </Section>
      <Section title="Add or replace a configuration">
        <form
          onSubmit={(ev) => {
            ev.preventDefault();
            void save.run(async () => {
              if (endpoint.trim() === '') throw new Error('give the endpoint name');
              await api('PUT', `/api/bootstrap/${encodeURIComponent(endpoint.trim())}`, JSON.parse(text));
              await refresh();
            });
          }}
        >
          <label class="block">
            Endpoint
            <input value={endpoint} onInput={(e) => setEndpoint(e.currentTarget.value)} />
          </label>
          <label class="block">
            Configuration (JSON)
            <textarea
              rows={12}
              spellcheck={false}
              value={text}
              onInput={(e) => setText(e.currentTarget.value)}
            />
          </label>
          <button type="submit" disabled={save.busy}>
            Save
          </button>
        </form>
        <ErrorBox error={save.error} />
      </Section>
    </div>
  );
}

/**
 * Per-endpoint credentials: PSK and OSCORE created and rotated here; the API never answers a key, so the
 * list shows identities and key fingerprints (secrets are write-only).
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, Section, useAction } from '../components.js';
import type { CredentialsView, Stats } from '../types.js';

const HEX = /^([0-9a-fA-F]{2})*$/;

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export function SecurityView() {
  const [list, setList] = useState<CredentialsView[] | undefined>(undefined);
  const load = useAction();
  const save = useAction();
  const [form, setForm] = useState({
    endpoint: '',
    kind: 'psk' as 'psk' | 'oscore',
    identity: '',
    key: '',
    masterSecret: '',
    masterSalt: '',
    senderId: '',
    recipientId: '',
  });
  const [saved, setSaved] = useState<string | undefined>(undefined);

  const [absent, setAbsent] = useState(false);
  const refresh = () =>
    load.run(async () => {
      const stats = await api<Stats>('GET', '/api/stats');
      if (!stats.services.security) return setAbsent(true);
      setList(await api<CredentialsView[]>('GET', '/api/security'));
    });
  useEffect(() => {
    void refresh();
  }, []);

  const submit = (e: Event) => {
    e.preventDefault();
    void save.run(async () => {
      const f = form;
      if (f.endpoint.trim() === '') throw new Error('give the endpoint name');
      for (const [name, v] of [
        ['key', f.key],
        ['master secret', f.masterSecret],
        ['master salt', f.masterSalt],
        ['sender id', f.senderId],
        ['recipient id', f.recipientId],
      ] as const)
        if (!HEX.test(v)) throw new Error(`the ${name} must be hex (pairs of 0-9 a-f)`);
      const body =
        f.kind === 'psk'
          ? { psk: { identity: f.identity, key: f.key } }
          : {
              oscore: {
                masterSecret: f.masterSecret,
                senderId: f.senderId,
                recipientId: f.recipientId,
                ...(f.masterSalt === '' ? {} : { masterSalt: f.masterSalt }),
              },
            };
      const view = await api<CredentialsView>(
        'PUT',
        `/api/security/${encodeURIComponent(f.endpoint.trim())}`,
        body,
      );
      setSaved(`Saved credentials of ${view.endpoint}`);
      // the secret leaves the page once sent
      setForm({ ...form, key: '', masterSecret: '', masterSalt: '' });
      await refresh();
    });
  };

  const remove = (endpoint: string) =>
    save.run(async () => {
      if (!window.confirm(`Remove the credentials of ${endpoint}?`)) return;
      await api('DELETE', `/api/security/${encodeURIComponent(endpoint)}`);
      await refresh();
    });

  const input = (name: keyof typeof form, label: string, extra: Record<string, string> = {}) => (
    <label>
      {label}
      <input
        name={name}
        value={form[name]}
        onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })}
        {...extra}
      />
    </label>
  );

  if (absent)
    return (
      <Section title="Security">
        <p class="muted">This server has no security store.</p>
      </Section>
    );

  return (
    <div class="stack">
      <Section title="Credentials">
        <ErrorBox error={load.error} />
        {load.error !== undefined ? null : list === undefined ? (
          <p class="muted">loading…</p>
        ) : list.length === 0 ? (
          <p class="muted">No endpoint has credentials.</p>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">PSK identity</th>
                  <th scope="col">PSK key fingerprint</th>
                  <th scope="col">OSCORE sender / recipient id</th>
                  <th scope="col">Master secret fingerprint</th>
                  <th scope="col">
                    <span class="sr">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((c) => (
                  <tr key={c.endpoint}>
                    <td>{c.endpoint}</td>
                    <td>{c.psk?.identity ?? '—'}</td>
                    <td>
                      <code>{c.psk?.keyFingerprint ?? '—'}</code>
                    </td>
                    <td>
                      {c.oscore === undefined
                        ? '—'
                        : `${c.oscore.senderId || '(empty)'} / ${c.oscore.recipientId || '(empty)'}`}
                    </td>
                    <td>
                      <code>{c.oscore?.masterSecretFingerprint ?? '—'}</code>
                    </td>
                    <td>
                      <button
                        type="button"
                        onClick={() =>
                          setForm({ ...form, endpoint: c.endpoint, identity: c.psk?.identity ?? '' })
                        }
                      >
                        Rotate
                      </button>{' '}
                      <button type="button" class="danger" onClick={() => remove(c.endpoint)}>
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Section title="Add or rotate credentials">
        <p class="muted small">
          Keys are sent once and never shown again: the server answers a fingerprint (the first 8 bytes of the
          key's SHA-256). Raw public keys (RPK) need a DTLS transport with RPK support, which this server has
          not.
        </p>
        <form class="filters" onSubmit={submit}>
          {input('endpoint', 'Endpoint')}
          <label>
            Kind
            <select
              value={form.kind}
              onChange={(e) => setForm({ ...form, kind: e.currentTarget.value as 'psk' | 'oscore' })}
            >
              <option value="psk">PSK (DTLS)</option>
              <option value="oscore">OSCORE</option>
            </select>
          </label>
          {form.kind === 'psk' ? (
            <>
              {input('identity', 'PSK identity')}
              {input('key', 'Key (hex)', { type: 'password', autocomplete: 'off' })}
              <button type="button" onClick={() => setForm({ ...form, key: randomHex(16) })}>
                Generate key
              </button>
            </>
          ) : (
            <>
              {input('masterSecret', 'Master secret (hex)', { type: 'password', autocomplete: 'off' })}
              {input('masterSalt', 'Master salt (hex, optional)', { type: 'password', autocomplete: 'off' })}
              {input('senderId', 'Server sender id (hex)')}
              {input('recipientId', 'Server recipient id (hex)')}
              <button type="button" onClick={() => setForm({ ...form, masterSecret: randomHex(16) })}>
                Generate secret
              </button>
            </>
          )}
          <button type="submit" disabled={save.busy}>
            Save
          </button>
        </form>
        <ErrorBox error={save.error} />
        {saved === undefined ? null : (
          <p class="ok" role="status">
            {saved}
          </p>
        )}
      </Section>
    </div>
  );
}

/**
 * Firmware: images (uploaded here, SHA-256 shown), campaigns started on devices named or found by endpoint
 * prefix (push or pull, concurrency), per-device progress bars and states live from `/api/events`, cancel,
 * and the history of finished campaigns.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, stream, upload } from '../api.js';
import { ago, ErrorBox, Progress, Section, useAction, useNow } from '../components.js';
import type { Campaign, DeviceCampaignStatus, FirmwareImage, RegistrationPage, Stats } from '../types.js';

const MAX_TARGETS = 100_000;
/** Rows of a campaign's device table on one page (the table pages through all of them). */
const CAMPAIGN_PAGE_SIZE = 100;

async function endpointsWithPrefix(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const q = new URLSearchParams({ limit: '1000', prefix });
    if (cursor !== undefined) q.set('cursor', cursor);
    const page = await api<RegistrationPage>('GET', `/api/registrations?${q}`);
    out.push(...page.items.map((r) => r.endpoint));
    cursor = page.nextCursor;
  } while (cursor !== undefined && out.length < MAX_TARGETS);
  return out;
}

export function FirmwareView() {
  const [images, setImages] = useState<FirmwareImage[]>([]);
  const [campaigns, setCampaigns] = useState<Campaign[]>([]);
  const [absent, setAbsent] = useState(false);
  const load = useAction();
  const act = useAction();
  const now = useNow();
  const [file, setFile] = useState<File | undefined>(undefined);
  const [form, setForm] = useState({
    imageId: '',
    targets: '',
    prefix: '',
    method: 'push',
    concurrency: '10',
  });

  const refresh = () =>
    load.run(async () => {
      const stats = await api<Stats>('GET', '/api/stats');
      if (!stats.services.firmware) return setAbsent(true);
      const [i, c] = await Promise.all([
        api<FirmwareImage[]>('GET', '/api/firmware'),
        api<Campaign[]>('GET', '/api/firmware/campaigns'),
      ]);
      setImages(i);
      setCampaigns(c);
    });

  useEffect(() => {
    void refresh();
    const controller = new AbortController();
    stream(
      '/api/events',
      {
        onEvent: (name, data) => {
          if (name === 'firmware-progress') {
            const d = data as DeviceCampaignStatus & { campaignId: string };
            setCampaigns((cs) =>
              cs.map((c) => {
                if (c.id !== d.campaignId) return c;
                const devices = c.devices.map((x) => (x.endpoint === d.endpoint ? { ...x, ...d } : x));
                return {
                  ...c,
                  devices,
                  succeeded: devices.filter((x) => x.state === 'succeeded').length,
                  failed: devices.filter((x) => x.state === 'failed').length,
                };
              }),
            );
          } else if (name === 'campaign-finished') {
            const done = data as Campaign;
            setCampaigns((cs) => cs.map((c) => (c.id === done.id ? done : c)));
          }
        },
      },
      controller.signal,
    );
    return () => controller.abort();
  }, []);

  if (absent)
    return (
      <Section title="Firmware">
        <p class="muted">This server has no firmware service.</p>
      </Section>
    );

  const start = (e: Event) => {
    e.preventDefault();
    void act.run(async () => {
      if (form.imageId === '') throw new Error('choose an image');
      let targets = form.targets
        .split(/[\s,]+/)
        .map((t) => t.trim())
        .filter((t) => t !== '');
      if (form.prefix !== '')
        targets = [...new Set([...targets, ...(await endpointsWithPrefix(form.prefix))])];
      if (targets.length === 0)
        throw new Error('name target devices, or an endpoint prefix that matches some');
      const c = await api<Campaign>('POST', '/api/firmware/campaigns', {
        imageId: form.imageId,
        targets,
        method: form.method,
        concurrency: Number(form.concurrency),
      });
      setCampaigns((cs) => [...cs.filter((x) => x.id !== c.id), c]);
    });
  };

  const byImage = new Map(images.map((i) => [i.id, i]));
  const ordered = [...campaigns].sort((a, b) => b.createdAt - a.createdAt);

  return (
    <div class="stack">
      <Section title="Images">
        <ErrorBox error={load.error} />
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            void act.run(async () => {
              if (file === undefined) throw new Error('choose a file');
              const info = await upload<FirmwareImage>(
                `/api/firmware?name=${encodeURIComponent(file.name)}`,
                file,
              );
              setImages((is) => [...is, info]);
              setForm((f) => ({ ...f, imageId: f.imageId || info.id }));
            });
          }}
        >
          <label>
            Image file
            <input type="file" name="image" onChange={(e) => setFile(e.currentTarget.files?.[0])} />
          </label>
          <button type="submit" disabled={act.busy}>
            Upload
          </button>
        </form>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">SHA-256</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span class="sr">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {images.map((i) => (
                <tr key={i.id}>
                  <td>{i.name}</td>
                  <td>{i.size.toLocaleString('en')} B</td>
                  <td>
                    <code class="hash" data-testid="sha256">
                      {i.sha256}
                    </code>
                  </td>
                  <td>{ago(i.createdAt, now)}</td>
                  <td>
                    <button
                      type="button"
                      class="danger"
                      onClick={() =>
                        act.run(async () => {
                          await api('DELETE', `/api/firmware/${encodeURIComponent(i.id)}`);
                          setImages((is) => is.filter((x) => x.id !== i.id));
                        })
                      }
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>

      <Section title="Start a campaign">
        <form class="filters" onSubmit={start}>
          <label>
            Image
            <select
              name="imageId"
              value={form.imageId}
              onChange={(e) => setForm({ ...form, imageId: e.currentTarget.value })}
            >
              <option value="">choose…</option>
              {images.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.name} ({i.sha256.slice(0, 12)}…)
                </option>
              ))}
            </select>
          </label>
          <label>
            Devices (names)
            <textarea
              rows={2}
              name="targets"
              value={form.targets}
              placeholder="dev1 dev2 …"
              onInput={(e) => setForm({ ...form, targets: e.currentTarget.value })}
            />
          </label>
          <label>
            and every endpoint starting with
            <input
              name="prefix"
              value={form.prefix}
              onInput={(e) => setForm({ ...form, prefix: e.currentTarget.value })}
            />
          </label>
          <label>
            Method
            <select value={form.method} onChange={(e) => setForm({ ...form, method: e.currentTarget.value })}>
              <option value="push">push (Block1 to /5/0/0)</option>
              <option value="pull">pull (Package URI)</option>
            </select>
          </label>
          <label>
            Concurrency
            <input
              type="number"
              min={1}
              max={10000}
              value={form.concurrency}
              onInput={(e) => setForm({ ...form, concurrency: e.currentTarget.value })}
            />
          </label>
          <button type="submit" disabled={act.busy}>
            Start campaign
          </button>
        </form>
        <ErrorBox error={act.error} />
      </Section>

      <Section title="Campaigns">
        {ordered.length === 0 ? <p class="muted">No campaigns yet.</p> : null}
        {ordered.map((c) => {
          const total = c.devices.reduce((n, d) => n + d.totalBytes, 0);
          const sent = c.devices.reduce(
            (n, d) => n + (d.state === 'succeeded' ? d.totalBytes : d.bytesSent),
            0,
          );
          return (
            <details key={c.id} open={c.state === 'running'} class="campaign" data-campaign={c.id}>
              <summary>
                <span class={`tag ${c.state}`} data-testid="campaign-state">
                  {c.cancelled
                    ? 'cancelled'
                    : c.state === 'finished' && c.failed === 0
                      ? 'succeeded'
                      : c.state}
                </span>{' '}
                {byImage.get(c.imageId)?.name ?? c.imageId} · {c.method} · {c.devices.length} devices ·{' '}
                {c.succeeded} succeeded · {c.failed} failed · started {ago(c.createdAt, now)}
                <Progress value={sent} max={total} label={`campaign ${c.id}`} />
                {c.state === 'running' ? (
                  <button
                    type="button"
                    class="danger"
                    onClick={() =>
                      act.run(async () => {
                        const s = await api<Campaign>('POST', `/api/firmware/campaigns/${c.id}/cancel`);
                        setCampaigns((cs) => cs.map((x) => (x.id === s.id ? s : x)));
                      })
                    }
                  >
                    Cancel
                  </button>
                ) : (
                  <button
                    type="button"
                    onClick={() =>
                      act.run(async () => {
                        await api('DELETE', `/api/firmware/campaigns/${c.id}`);
                        setCampaigns((cs) => cs.filter((x) => x.id !== c.id));
                      })
                    }
                  >
                    Remove from history
                  </button>
                )}
              </summary>
              <CampaignDevices campaign={c} />
            </details>
          );
        })}
      </Section>
    </div>
  );
}

/** A campaign's devices, `CAMPAIGN_PAGE_SIZE` rows a page, every device reachable with Previous / Next. */
function CampaignDevices({ campaign: c }: { campaign: Campaign }) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(c.devices.length / CAMPAIGN_PAGE_SIZE));
  // live updates never shrink a campaign, but keep the page in range anyway
  const current = Math.min(page, pages - 1);
  const first = current * CAMPAIGN_PAGE_SIZE;
  const rows = c.devices.slice(first, first + CAMPAIGN_PAGE_SIZE);
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">State</th>
            <th scope="col">Progress</th>
            <th scope="col">Attempts</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((d) => (
            <tr key={d.endpoint}>
              <td>{d.endpoint}</td>
              <td>
                <span class={`tag ${d.state}`}>{d.state}</span>
              </td>
              <td>
                <Progress
                  value={d.state === 'succeeded' ? d.totalBytes : d.bytesSent}
                  max={d.totalBytes}
                  label={`${d.endpoint} download`}
                />
              </td>
              <td>{d.attempts}</td>
              <td class="small">{d.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {pages > 1 ? (
        <nav class="pager" aria-label={`Devices of campaign ${c.id}`}>
          <button type="button" disabled={current === 0} onClick={() => setPage(current - 1)}>
            ← Previous
          </button>
          <span class="muted" data-testid="campaign-page-info">
            {`${first + 1}–${first + rows.length} of ${c.devices.length}`}
          </span>
          <button type="button" disabled={current >= pages - 1} onClick={() => setPage(current + 1)}>
            Next →
          </button>
        </nav>
      ) : null}
    </div>
  );
}

/** The per-device CoAP message log: direction, type, code, options and a payload preview. */
import type { CoapLogEntry } from '../types.js';

export function CoapLog({ entries }: { entries: readonly CoapLogEntry[] }) {
  if (entries.length === 0) return <p class="muted">no messages yet</p>;
  return (
    <div class="table-wrap log">
      <table>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Dir</th>
            <th scope="col">Type</th>
            <th scope="col">Code</th>
            <th scope="col">MID</th>
            <th scope="col">Token</th>
            <th scope="col">Options</th>
            <th scope="col">Payload</th>
          </tr>
        </thead>
        <tbody>
          {[...entries].reverse().map((e, i) => (
            <tr key={`${e.time}-${e.messageId}-${i}`} class={e.direction}>
              <td>{new Date(e.time).toISOString().slice(11, 23)}</td>
              <td>{e.direction === 'in' ? '→ in' : '← out'}</td>
              <td>{e.type}</td>
              <td>{e.code}</td>
              <td>{e.messageId}</td>
              <td>
                <code>{e.token}</code>
              </td>
              <td class="small">{e.options.join('; ')}</td>
              <td class="small">
                <code>{e.payload}</code>
                {e.size > 0 ? <span class="muted"> ({e.size} B)</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

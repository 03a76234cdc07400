import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SECRET = '0102030405060708090a0b0c0d0e0f10';
const SALT = '9e7ca92223786340';

/**
 * Writes the RFC 8613 Appendix C.1 keying material as two aiocoap-compatible context directories under
 * `root`: `client` (Sender ID empty, Recipient ID 01) and `server` (the mirror).
 */
export function writeC1Dirs(root: string): { client: string; server: string } {
  const client = join(root, 'client');
  const server = join(root, 'server');
  for (const [dir, sender, recipient] of [
    [client, '', '01'],
    [server, '01', ''],
  ] as const) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'settings.json'),
      `${JSON.stringify(
        {
          'sender-id_hex': sender,
          'recipient-id_hex': recipient,
          secret_hex: SECRET,
          salt_hex: SALT,
          algorithm: 'AES-CCM-16-64-128',
        },
        null,
        2,
      )}\n`,
    );
  }
  return { client, server };
}

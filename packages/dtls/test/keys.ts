/** Test-only keys and certificates, made at test time (no private keys in the repository). */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EcdsaCredentials } from '../src/types.js';

export function ecKey(): EcdsaCredentials {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
  };
}

export interface TestPki {
  readonly dir: string;
  readonly caDer: Uint8Array;
  /** Server credentials with chain [server cert]. */
  readonly server: EcdsaCredentials;
  readonly client: EcdsaCredentials;
  /** PEM files for OpenSSL: ca.pem, server.pem/server.key, client.pem/client.key. */
  file(name: string): string;
}

function der(pemPath: string): Uint8Array {
  return new Uint8Array(new X509Certificate(readFileSync(pemPath)).raw);
}

function keyDer(path: string): EcdsaCredentials {
  const out = execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', path, '-outform', 'DER']);
  const pub = execFileSync('openssl', ['pkey', '-in', path, '-pubout', '-outform', 'DER']);
  return { privateKey: new Uint8Array(out), publicKey: new Uint8Array(pub) };
}

/** A CA and two end-entity certificates (server, client), ECDSA P-256, made with the openssl CLI. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'thimble-dtls-pki-'));
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')]);
  run([
    'req',
    '-x509',
    '-new',
    '-key',
    f('ca.key'),
    '-subj',
    '/CN=Thimble Test CA',
    '-days',
    '2',
    '-out',
    f('ca.pem'),
  ]);
  for (const who of ['server', 'client']) {
    run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${who}.key`)]);
    run(['req', '-new', '-key', f(`${who}.key`), '-subj', `/CN=thimble-${who}`, '-out', f(`${who}.csr`)]);
    writeFileSync(f('ext.cnf'), 'basicConstraints=CA:FALSE\n');
    run([
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f('ext.cnf'),
      '-out',
      f(`${who}.pem`),
    ]);
  }
  const server = { ...keyDer(f('server.key')), certificateChain: [der(f('server.pem'))] };
  const client = { ...keyDer(f('client.key')), certificateChain: [der(f('client.pem'))] };
  return { dir, caDer: der(f('ca.pem')), server, client, file: f };
}

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, decodeMessage, encodeMessage, MessageType, toHex } from '@thimble/coap-core';
import { reasonOf } from '@thimble/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { contextLookup, parseContextSettings, protectRequest, unprotectRequest } from '../src/index.js';
import { loadContextDirectory, SEQUENCE_FILE } from '../src/node.js';
import { seededRandom } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'thimble-oscore-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dir(name: string, settings: object): string {
  const d = join(root, name);
  mkdirSync(d);
  writeFileSync(join(d, 'settings.json'), JSON.stringify(settings));
  return d;
}

// RFC 8613 C.1 keying material in aiocoap's settings.json keys
const c1Client = {
  'sender-id_hex': '',
  'recipient-id_hex': '01',
  secret_hex: '0102030405060708090a0b0c0d0e0f10',
  salt_hex: '9e7ca92223786340',
  algorithm: 'AES-CCM-16-64-128',
};

describe('credentials directory (aiocoap settings.json keys)', () => {
  it('derives the C.1 context and keeps the sequence state beside settings.json', () => {
    const d = dir('client', c1Client);
    const { context, restarted } = loadContextDirectory(d);
    expect(restarted).toBe(false);
    expect(toHex(context.senderKey)).toBe('f0910ed7295e6ad4b54fc793154302ff');
    expect(toHex(context.commonIv)).toBe('4622d4dd6d944168eefb54987c');
    // marked as used on load (nothing reserved yet), so any later load counts as a restart
    expect(JSON.parse(readFileSync(join(d, SEQUENCE_FILE), 'utf8'))).toEqual({
      'next-to-send': 0,
      received: 'unknown',
    });
    protectRequest(context, { type: MessageType.CON, code: Code.GET, messageId: 1 });
    expect(JSON.parse(readFileSync(join(d, SEQUENCE_FILE), 'utf8'))['next-to-send']).toBe(64);
    const again = loadContextDirectory(d, { random: seededRandom(1) });
    expect(again.restarted).toBe(true);
    expect(again.context.senderSequenceNumber).toBe(64);
    expect(again.context.awaitingFreshness).toBe(true); // Appendix B.1.2 for a restarted server
  });

  it('a server that never used a sequence number of its own still counts as restarted (Appendix B.1.2)', () => {
    const d = dir('responder', c1Client);
    expect(loadContextDirectory(d).restarted).toBe(false);
    // (answers with the request's nonce take no sequence number: nothing else was written)
    const again = loadContextDirectory(d, { random: seededRandom(2) });
    expect(again.restarted).toBe(true);
    expect(again.context.senderSequenceNumber).toBe(0);
    expect(again.context.awaitingFreshness).toBe(true);
  });

  it('accepts the _ascii variants, id-context and window', () => {
    const s = parseContextSettings({
      'sender-id_ascii': 'client',
      'recipient-id_ascii': 'server',
      secret_ascii: 'hunter2hunter2',
      'id-context_hex': '37cbf3210017a2d3',
      window: 64,
    });
    expect(new TextDecoder().decode(s.senderId)).toBe('client');
    expect(toHex(s.idContext!)).toBe('37cbf3210017a2d3');
    expect(s.replayWindow).toBe(64);
    expect(s.algorithm.id).toBe(10);
  });

  it.each<[unknown, string]>([
    [{}, 'missing keys'],
    [{ ...c1Client, 'sender-id_ascii': 'x' }, 'both _hex and _ascii'],
    [{ ...c1Client, secret_hex: 'xyz' }, 'bad hex'],
    [{ ...c1Client, algorithm: 'ROT13' }, 'unknown algorithm'],
    [{ ...c1Client, window: 0 }, 'window out of range'],
    [{ ...c1Client, 'kdf-hashfun': 'md5' }, 'unsupported hash'],
    [[], 'not an object'],
  ])('rejects %j (%s) with invalid-context', (settings, _why) => {
    expect(reasonOf(() => parseContextSettings(settings))).toBe('invalid-context');
  });

  it('a client directory and a server directory talk to each other', () => {
    const client = loadContextDirectory(dir('c2', c1Client)).context;
    const server = loadContextDirectory(
      dir('s2', { ...c1Client, 'sender-id_hex': '01', 'recipient-id_hex': '' }),
    ).context;
    const { message } = protectRequest(client, { type: MessageType.CON, code: Code.GET, messageId: 9 });
    const r = unprotectRequest(contextLookup([server]), decodeMessage(encodeMessage(message)));
    expect(r.request.code).toBe(Code.GET);
  });

  it('shares sequence.json with aiocoap: numbers aiocoap reserved are never reused, and vice versa', () => {
    const d = dir('shared', c1Client);
    // aiocoap used the directory before and left its state (with a persisted replay window)
    writeFileSync(
      join(d, SEQUENCE_FILE),
      JSON.stringify({ 'next-to-send': 500, received: { index: 0, bitfield: 0 } }),
    );
    const { context, restarted } = loadContextDirectory(d, { random: seededRandom(2) });
    expect(restarted).toBe(true);
    expect(context.awaitingFreshness).toBe(true);
    const { binding } = protectRequest(context, { type: MessageType.CON, code: Code.GET, messageId: 1 });
    expect(toHex(binding.partialIv)).toBe('01f4'); // 500
    // what aiocoap will read next time: a reservation past 500, replay window unknown
    const state = JSON.parse(readFileSync(join(d, SEQUENCE_FILE), 'utf8'));
    expect(state).toEqual({ 'next-to-send': 564, received: 'unknown' });
  });

  it('merges secret.json and settings.json like aiocoap, refusing a key given twice', () => {
    const d = dir('split', { 'sender-id_hex': '', 'recipient-id_hex': '01', algorithm: 'AES-CCM-16-64-128' });
    writeFileSync(
      join(d, 'secret.json'),
      JSON.stringify({ secret_hex: c1Client.secret_hex, salt_hex: c1Client.salt_hex }),
    );
    expect(toHex(loadContextDirectory(d).context.senderKey)).toBe('f0910ed7295e6ad4b54fc793154302ff');
    const e = dir('twice', c1Client);
    writeFileSync(join(e, 'secret.json'), JSON.stringify({ secret_hex: c1Client.secret_hex }));
    expect(reasonOf(() => loadContextDirectory(e))).toBe('invalid-context');
  });

  it('a missing directory is a typed error', () => {
    expect(reasonOf(() => loadContextDirectory(join(root, 'nope')))).toBe('invalid-context');
  });
});

/**
 * The console's per-device CoAP message log (`CoapMessageLog`, `/api/clients/:endpoint/log/entries`):
 * messages described from their bytes (RFC 7252 §3), only watched devices logged, bounded per device and
 * in the number of devices.
 */
import { Code, encodeMessage, MessageType, OptionNumber } from '@thimble/coap-core';
import { describe, expect, it } from 'vitest';
import { CoapMessageLog, describeEntry } from '../../src/node/index.js';
import { restSetup } from './harness.js';

const text = (s: string) => new TextEncoder().encode(s);

const request = (messageId: number, payload = '') =>
  encodeMessage({
    type: MessageType.CON,
    code: Code.POST,
    messageId,
    token: new Uint8Array([0xab, 0xcd]),
    options: [
      { number: OptionNumber.UriPath, value: 'rd' },
      { number: OptionNumber.ContentFormat, value: 40 },
    ],
    payload: text(payload),
  });

describe('CoapMessageLog: a bounded per-device log of CoAP messages (RFC 7252 §3)', () => {
  it('describes a message: type, code, Message ID, token, options and a payload preview', () => {
    const e = describeEntry('in', request(0x1234, '</3/0>,</3303/0>'), 5);
    expect(e).toEqual({
      time: 5,
      direction: 'in',
      type: 'CON',
      code: expect.stringMatching(/^0\.02/),
      messageId: 0x1234,
      token: 'abcd',
      options: ['Uri-Path: rd', 'Content-Format: 40'],
      payload: '</3/0>,</3303/0>',
      size: 16,
    });
    const binary = describeEntry('out', request(1, '\u0001\u0002'), 0);
    expect(binary.payload).toBe('0102');
    const long = describeEntry('out', request(2, 'x'.repeat(100)), 0, 10);
    expect(long.payload).toBe(`${'x'.repeat(10)}…`);
    const bad = describeEntry('in', new Uint8Array([0xff, 0x00]), 0);
    expect(bad.code).toMatch(/^malformed/);
  });

  it('logs only watched devices, keeps the newest `capacity` entries, and answers them on the API', async () => {
    const log = new CoapMessageLog({ capacity: 3, now: () => 42 });
    const s = await restSetup({ messageLog: log });
    const peer = s.server.registration('dev1')!.peer;
    log.trace('in', request(1), peer);
    expect(log.entries('dev1')).toEqual([]);
    const seen: number[] = [];
    const stop = log.watch('dev1', (e) => seen.push(e.messageId));
    for (let id = 2; id <= 6; id++) log.trace(id % 2 === 0 ? 'in' : 'out', request(id), peer);
    // another peer is not dev1
    log.trace('in', request(99), { address: '10.9.9.9', port: 1 });
    expect(seen).toEqual([2, 3, 4, 5, 6]);
    expect(log.entries('dev1').map((e) => e.messageId)).toEqual([4, 5, 6]);
    stop();
    log.trace('in', request(7), peer);
    expect(seen).toHaveLength(5);
    expect(log.entries('dev1').map((e) => e.messageId)).toEqual([5, 6, 7]);

    const res = await s.call({ method: 'GET', url: '/api/clients/dev1/log/entries' });
    expect(res.statusCode).toBe(200);
    expect(res.json().map((e: { messageId: number }) => e.messageId)).toEqual([5, 6, 7]);
    expect(res.json()[0]).toMatchObject({ direction: 'out', type: 'CON', token: 'abcd', time: 42 });
  });

  it('keeps at most maxDevices rings, pushing out the least recently watched unlistened one', () => {
    const log = new CoapMessageLog({ maxDevices: 2 });
    const a = log.watch('a', () => undefined);
    log.watch('b', () => undefined)();
    log.watch('c', () => undefined);
    expect(log.devices).toBe(2);
    a();
    expect(log.entries('b')).toEqual([]);
  });

  it('answers 501 without a log', async () => {
    const s = await restSetup();
    const res = await s.call({ method: 'GET', url: '/api/clients/dev1/log/entries' });
    expect(res.statusCode).toBe(501);
  });
});

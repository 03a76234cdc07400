import { describe, expect, it } from 'vitest';
import {
  CoapEndpoint,
  CoapRequestError,
  Code,
  decodeMessage,
  encodeMessage,
  FakeClock,
  MemoryNetwork,
  MessageType,
  seededRandom,
} from '../../src/index.js';
import { drive } from '../endpoint/harness.js';

/**
 * A server's deduplication cache (RFC 7252 §4.5) answers a message ID it saw within EXCHANGE_LIFETIME with
 * the reply it sent then. A new endpoint on the same address:port (a restarted device, a reused ephemeral
 * port) whose first message ID collides gets that old reply: an ACK with a response for another token.
 */
function setup(staleReplies: number) {
  const clock = new FakeClock();
  const network = new MemoryNetwork({ clock, seed: 3 });
  const raw = network.bind('10.0.0.1', 5683);
  const seen: { messageId: number; token: Uint8Array }[] = [];
  raw.onDatagram((data, peer) => {
    const m = decodeMessage(data);
    seen.push({ messageId: m.messageId, token: m.token.slice() });
    const stale = seen.length <= staleReplies;
    raw.send(
      encodeMessage({
        type: MessageType.ACK,
        code: stale ? Code.Deleted : Code.Content,
        messageId: m.messageId,
        token: stale ? Uint8Array.of(0xde, 0xad) : m.token,
        payload: new TextEncoder().encode(stale ? 'stale' : 'fresh'),
      }),
      peer,
    );
  });
  const client = new CoapEndpoint({
    transport: network.bind('10.0.0.2', 40000),
    clock,
    random: seededRandom(9),
  });
  return { clock, client, seen };
}

describe('stale piggybacked replies (RFC 7252 §4.5, §5.3.2)', () => {
  it('a reply for another token is not the answer: the request goes again under a fresh message ID', async () => {
    const { clock, client, seen } = setup(1);
    const t0 = clock.now();
    const response = await drive(clock, client.get('coap://10.0.0.1/x'));
    expect(response.code).toBe(Code.Content);
    expect(new TextDecoder().decode(response.payload)).toBe('fresh');
    expect(seen).toHaveLength(2);
    expect(seen[1]!.messageId).not.toBe(seen[0]!.messageId);
    // the same request (same token), not a retransmission after ACK_TIMEOUT
    expect(seen[1]!.token).toEqual(seen[0]!.token);
    expect(clock.now() - t0).toBeLessThan(100);
  });

  it('a peer that only ever gives stale replies makes the request time out instead of hanging', async () => {
    const { clock, client, seen } = setup(Number.POSITIVE_INFINITY);
    const error = await drive(
      clock,
      client.get('coap://10.0.0.1/x').then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    expect(error).toBeInstanceOf(CoapRequestError);
    expect((error as CoapRequestError).reason).toBe('timeout');
    // the first message and three renumbered ones, then no more
    expect(seen).toHaveLength(4);
    expect(new Set(seen.map((s) => s.messageId)).size).toBe(4);
  });
});

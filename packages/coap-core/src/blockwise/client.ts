/**
 * Block-wise transfers, client side (RFC 7959; docs/ARCHITECTURE.md, coap-core): a request body larger
 * than the block size goes up in Block1 blocks (§2.5), a response in Block2 blocks is fetched block by
 * block and reassembled (§2.4). Every block is an exchange of its own through `ClientRequests`
 * (`BlockRequests`).
 */
import type { Prepared } from '../client/options.js';
import { CoapRequestError } from '../errors.js';
import { decodeBlock, encodeBlock, sizeToSzx, szxToSize } from '../message/block.js';
import { Code } from '../message/constants.js';
import { OptionNumber } from '../message/options.js';
import { CoapResponse } from '../message/response.js';
import type { CoapOptionInit } from '../message/types.js';
import type { Random } from '../random.js';
import type { Matcher } from '../stack/matcher.js';
import { bytesEqual, concatChunks } from '../util/bytes.js';

/**
 * What Block-wise calls on the client requests above it (`ClientRequests` implements it): each block is an
 * exchange of its own, with the Echo retry of RFC 9175 §2.4.
 */
export interface BlockRequests {
  /** One exchange of `p` with these options and payload, and a fresh token. */
  send(
    p: Prepared,
    options: readonly CoapOptionInit[],
    payload: Uint8Array | undefined,
  ): Promise<CoapResponse>;
  /** The repeated exchange when `r` is a 4.01 with Echo, or undefined when `r` is the answer. */
  echoRetry(
    p: Prepared,
    options: readonly CoapOptionInit[],
    payload: Uint8Array | undefined,
    r: CoapResponse,
  ): Promise<CoapResponse> | undefined;
  /** `send` after the pending-requests check, with the Echo retry. */
  single(
    p: Prepared,
    extra: readonly CoapOptionInit[],
    payload: Uint8Array | undefined,
  ): Promise<CoapResponse>;
}

class EtagChanged extends Error {
  constructor() {
    super('the representation changed during a Block2 transfer');
  }
}

export class BlockwiseClient {
  constructor(
    private readonly requests: BlockRequests,
    private readonly matcher: Matcher,
    private readonly random: Random,
  ) {}

  /** A fresh Request-Tag for one Block1 transfer (RFC 9175 §3). */
  requestTag(): Uint8Array {
    return this.random.fill(new Uint8Array(4));
  }

  /**
   * RFC 7959 §2.5: a body larger than the block size goes as Block1 blocks. `tag` is the transfer's
   * Request-Tag (RFC 9175 §3: it keeps concurrent transfers to the same resource apart); a Block2
   * response to the last block is continued with the same tag (§2.6, `download`).
   */
  async upload(p: Prepared, tag: Uint8Array = this.requestTag()): Promise<CoapResponse> {
    const body = p.payload!;
    let size = p.blockSize;
    let offset = 0;
    let restarts = 0;
    for (;;) {
      const szx = sizeToSzx(size);
      const chunk = body.subarray(offset, offset + size);
      const more = offset + chunk.length < body.length;
      const num = offset / size;
      const extra: CoapOptionInit[] = [
        { number: OptionNumber.Block1, value: encodeBlock({ num, more, szx }) },
        { number: OptionNumber.RequestTag, value: tag },
      ];
      if (num === 0) extra.push({ number: OptionNumber.Size1, value: body.length });
      // `single` inlined: the block loop awaits the exchange itself (one promise and microtask less)
      if (this.matcher.size >= this.matcher.maxPending) throw this.matcher.queueFull();
      const options = [...p.options, ...extra];
      let r = await this.requests.send(p, options, chunk);
      const retry = this.requests.echoRetry(p, options, chunk, r);
      if (retry !== undefined) r = await retry;
      const ack = r.message.getUint(OptionNumber.Block1);
      const acked = ack === undefined ? undefined : decodeBlock(ack);
      if (r.code === Code.RequestEntityTooLarge && acked !== undefined && acked.szx < szx && restarts < 3) {
        // §2.9.3: the server wants smaller blocks: start over with its size
        size = acked.size;
        offset = 0;
        restarts++;
        continue;
      }
      p.onBlock?.({ direction: 'upload', offset, data: chunk, more, total: body.length });
      if (!more || r.code !== Code.Continue) return r;
      offset += chunk.length;
      // §2.3: late negotiation, the server may ask for smaller blocks from now on
      if (acked !== undefined && acked.szx < szx && acked.szx < 7) size = acked.size;
    }
  }

  /**
   * RFC 7959 §2.4: fetches the remaining blocks of a Block2 response and reassembles the body.
   *
   * For a request with a payload that is not safe (POST, PUT, PATCH, iPATCH), RFC 7959 §2.6 (Figure 10)
   * continues with the same method and options, the Block2 option and no payload: the server serves the
   * blocks of the response it already made, the action is not repeated. `tag` is the Request-Tag of a
   * Block1 upload, repeated (without the body, for FETCH too) so the server finds the transfer (RFC 9175
   * §3.4). A FETCH whose body fit one message repeats it: it selects the representation (RFC 8132 §2).
   */
  async download(p: Prepared, first: CoapResponse, tag?: Uint8Array): Promise<CoapResponse> {
    const value = first.message.getUint(OptionNumber.Block2);
    if (value === undefined) return first;
    const block = decodeBlock(value);
    if (!block.more && block.num === 0) return first;
    // the caller asked for one block itself (e.g. to resume a download): it gets that block and no more
    if (p.options.some((o) => o.number === OptionNumber.Block2)) return first;
    const safe = p.code === Code.GET || p.code === Code.FETCH;
    if (tag !== undefined) {
      // the body went up in blocks: the blocks of its response are asked for as in Figure 10
      p = {
        ...p,
        options: [...p.options, { number: OptionNumber.RequestTag, value: tag }],
        payload: undefined,
      };
    } else if (!safe) {
      p = { ...p, payload: undefined };
    }
    let attempt = 0;
    let response = first;
    for (;;) {
      try {
        return await this.downloadFrom(p, response);
      } catch (e) {
        if (!(e instanceof EtagChanged)) throw e;
        if (!safe || ++attempt > 3) {
          // the result of an action cannot be fetched again: restarting would repeat it
          throw new CoapRequestError('invalid-request', e.message);
        }
        // the representation changed mid-transfer: start again from block 0 (§2.4)
        response = await this.requests.single(
          p,
          [{ number: OptionNumber.Block2, value: encodeBlock({ num: 0, more: false, szx: block.szx }) }],
          p.payload,
        );
        if (response.message.getUint(OptionNumber.Block2) === undefined) return response;
      }
    }
  }

  private async downloadFrom(p: Prepared, first: CoapResponse): Promise<CoapResponse> {
    const echo = first.message.getOption(OptionNumber.Echo);
    if (echo !== undefined && decodeBlock(first.message.getUint(OptionNumber.Block2)!).num === 0) {
      // RFC 9175 §2.4: a first block carrying Echo was cut small because our address is not verified;
      // repeating the request with the value verifies it, and the answer comes at the server's full size
      const again = await this.requests.send(
        p,
        [...p.options, { number: OptionNumber.Echo, value: echo.slice() }],
        p.payload,
      );
      if (again.code === first.code) {
        if (again.message.getUint(OptionNumber.Block2) === undefined) return again;
        first = again;
      }
    }
    const block = decodeBlock(first.message.getUint(OptionNumber.Block2)!);
    if (block.num !== 0)
      throw new CoapRequestError('invalid-request', 'Block2 transfer did not start at block 0');
    const etag = first.message.getOption(OptionNumber.ETag);
    const total = first.message.getUint(OptionNumber.Size2);
    if (total !== undefined && total > p.maxBodySize) {
      throw new CoapRequestError(
        'invalid-request',
        `response of ${total} bytes exceeds maxBodySize ${p.maxBodySize}`,
      );
    }
    const chunks: Uint8Array[] = [first.payload];
    let received = first.payload.length;
    let more = block.more;
    let szx = Math.min(block.szx, 6);
    p.onBlock?.({ direction: 'download', offset: 0, data: first.payload, more, total });
    let last = first;
    while (more) {
      const size = szxToSize(szx);
      if (received % size !== 0)
        throw new CoapRequestError('invalid-request', 'Block2 blocks do not line up');
      const num = received / size;
      // `single` inlined: the block loop awaits the exchange itself (one promise and microtask less)
      if (this.matcher.size >= this.matcher.maxPending) throw this.matcher.queueFull();
      const options = [
        ...p.options,
        { number: OptionNumber.Block2, value: encodeBlock({ num, more: false, szx }) },
      ];
      let r = await this.requests.send(p, options, p.payload);
      const retry = this.requests.echoRetry(p, options, p.payload, r);
      if (retry !== undefined) r = await retry;
      if (r.code !== first.code) return r; // an error in the middle of the transfer is the answer
      const v = r.message.getUint(OptionNumber.Block2);
      if (v === undefined) return r; // the server sent the whole (new) representation
      const b = decodeBlock(v);
      const tag = r.message.getOption(OptionNumber.ETag);
      if ((etag === undefined) !== (tag === undefined) || (etag !== undefined && !bytesEqual(etag, tag!))) {
        throw new EtagChanged();
      }
      if (b.offset !== received)
        throw new CoapRequestError('invalid-request', 'unexpected Block2 block number');
      if (received + r.payload.length > p.maxBodySize) {
        throw new CoapRequestError('invalid-request', `response exceeds maxBodySize ${p.maxBodySize}`);
      }
      chunks.push(r.payload);
      p.onBlock?.({ direction: 'download', offset: received, data: r.payload, more: b.more, total });
      received += r.payload.length;
      more = b.more;
      szx = Math.min(b.szx, 6);
      last = r;
    }
    return new CoapResponse(last.message, last.peer, concatChunks(chunks, received));
  }
}

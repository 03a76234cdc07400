/**
 * Block-wise transfers, server side (RFC 7959), the layer above security (docs/ARCHITECTURE.md,
 * coap-core): Block1 request bodies are reassembled (or streamed to a route's sink) before the handler
 * runs, answering 2.31 / 4.08 / 4.13 on the way (§2.5, §2.9); responses larger than the block size go out
 * in Block2 blocks served from a snapshot of the representation (§2.4). Its state lives in the bounded
 * `TransferStore`.
 */
import type { Clock } from '../clock.js';
import { CoapStatusError } from '../errors.js';
import { decodeBlock, encodeBlock, sizeToSzx, szxToSize } from '../message/block.js';
import { Code } from '../message/constants.js';
import { OptionNumber } from '../message/options.js';
import type { CoapOptionInit } from '../message/types.js';
import type { InboundExchange } from '../messaging/message-layer.js';
import { identityOf } from '../security/layer.js';
import { CoapRequest, type ResponseInit, type RouteEntry } from '../server/request.js';
import type { Responder } from '../server/responder.js';
import type { RouteMatch } from '../server/router.js';
import type { RequestReceiver } from '../stack/layer.js';
import { peerKey } from '../transport/types.js';
import { concatChunks, toHex } from '../util/bytes.js';
import { toBytes } from '../util/pool.js';
import { type Block1Transfer, type Block2Snapshot, etagOf, type TransferStore } from './store.js';

/** What Block-wise calls on the server dispatch above it (`ServerDispatch` implements it). */
export interface BlockwiseDispatch {
  /** The route of a request whose handler may see it, or undefined when the dispatch answered it. */
  resolve(ex: InboundExchange, path: string[]): RouteMatch<RouteEntry> | undefined;
  /** Runs the handler; its response comes back down through Observe and `respond`. */
  invoke(ex: InboundExchange, request: CoapRequest, entry: RouteEntry, block1: number | undefined): void;
}

export class BlockwiseServer {
  /** The layers above (set when the stack is built): Observe, and the dispatch above it. */
  observe!: RequestReceiver;
  dispatch!: BlockwiseDispatch;

  constructor(
    private readonly transfers: TransferStore,
    private readonly clock: Clock,
    private readonly blockSize: number,
    private readonly responder: Responder,
  ) {}

  /** Up: takes Block1 requests and later Block2 blocks of a stored representation; passes the rest up. */
  receiveRequest(ex: InboundExchange): void {
    const message = ex.message;
    const block1 = message.getUint(OptionNumber.Block1);
    const block2 = block1 === undefined ? message.getUint(OptionNumber.Block2) : undefined;
    if (block1 === undefined && (block2 === undefined || decodeBlock(block2).num === 0)) {
      this.observe.receiveRequest(ex);
      return;
    }
    // the route decides first (4.02 / 4.04 / 4.05 / 4.01 / 4.15), and gives Block1 its limit and sink
    const path = message.getStrings(OptionNumber.UriPath);
    const match = this.dispatch.resolve(ex, path);
    if (match === undefined) return;
    const entry = match.route.handlers.get(message.code)!;
    if (block1 !== undefined) {
      this.receiveBlock1(ex, path, match.params, entry, block1);
      return;
    }
    if (this.serveSnapshot(ex, block2!, path)) return;
    this.dispatch.invoke(
      ex,
      new CoapRequest(message, ex.peer, path, match.params, undefined, identityOf(ex)),
      entry,
      undefined,
    );
  }

  /** Down: a handler's response; a reassembled Block1 request's last block is confirmed in it (§2.3). */
  respond(ex: InboundExchange, response: ResponseInit, block1: number | undefined): void {
    this.respondWithBlocks(
      ex,
      block1 === undefined
        ? response
        : {
            ...response,
            options: [...(response.options ?? []), { number: OptionNumber.Block1, value: block1 }],
          },
    );
  }

  /** Block-wise transfers in progress (for tests and metrics). */
  get inProgress(): number {
    this.transfers.sweep(this.clock.now());
    return this.transfers.count;
  }

  // ------------------------------------------------------------------ Block1

  /**
   * The request's transfer: peer, method, path, query, Accept and Request-Tag (RFC 9175 §3). `path` is
   * passed where the caller decoded it already; the usually absent options are only read when present.
   */
  private transferKey(
    ex: InboundExchange,
    kind: string,
    path: readonly string[] = ex.message.getStrings(OptionNumber.UriPath),
  ): string {
    const m = ex.message;
    const tag = m.hasOption(OptionNumber.RequestTag)
      ? m.getOptions(OptionNumber.RequestTag).map(toHex).join(',')
      : '';
    const query = m.hasOption(OptionNumber.UriQuery) ? m.getStrings(OptionNumber.UriQuery).join('&') : '';
    return `${kind}|${peerKey(ex.peer)}|${m.code}|${path.join('/')}|${query}|${m.getUint(OptionNumber.Accept) ?? ''}|${tag}`;
  }

  /** RFC 7959 §2.5: reassembles (or streams) a Block1 body, answering 2.31 / 4.08 / 4.13 on the way. */
  private receiveBlock1(
    ex: InboundExchange,
    path: string[],
    params: Record<string, string>,
    entry: RouteEntry,
    value: number,
  ): void {
    const message = ex.message;
    const block = decodeBlock(value);
    const now = this.clock.now();
    const limit = entry.options.maxBodySize ?? this.transfers.limits.maxBodySize;
    const szx = Math.min(block.szx, sizeToSzx(this.blockSize));
    const size1 = message.getUint(OptionNumber.Size1);
    if (block.szx === 7 || (size1 !== undefined && size1 > limit)) {
      this.responder.reply(ex, {
        code: Code.RequestEntityTooLarge,
        options: [{ number: OptionNumber.Size1, value: limit }],
      });
      return;
    }
    const key = this.transferKey(ex, 'b1', path);
    let transfer = this.transfers.get<Block1Transfer>(key, 1, now);
    if (block.num === 0) transfer = this.transfers.startBlock1(key, now);
    if (transfer === undefined || block.offset !== transfer.received) {
      // §2.9.2: a block out of sequence, or the start is unknown
      this.transfers.delete(key);
      this.responder.reply(ex, { code: Code.RequestEntityIncomplete });
      return;
    }
    const chunk = message.payload;
    if (block.more && chunk.length !== block.size) {
      this.transfers.delete(key);
      this.responder.reply(ex, { code: Code.BadRequest, payload: 'Block1 block shorter than its size' });
      return;
    }
    if (transfer.received + chunk.length > limit) {
      this.transfers.delete(key);
      this.responder.reply(ex, {
        code: Code.RequestEntityTooLarge,
        options: [{ number: OptionNumber.Size1, value: limit }],
      });
      return;
    }
    const offset = transfer.received;
    transfer.received += chunk.length;
    const sink = entry.options.blockSink;
    const continueOrFinish = () => {
      if (block.more) {
        // 2.31 Continue, possibly asking for smaller blocks from now on (§2.3)
        this.responder.reply(ex, {
          code: Code.Continue,
          options: [{ number: OptionNumber.Block1, value: encodeBlock({ num: block.num, more: true, szx }) }],
        });
        return;
      }
      this.transfers.delete(key);
      const body =
        sink !== undefined ? new Uint8Array(0) : concatChunks(transfer!.chunks, transfer!.received);
      this.dispatch.invoke(
        ex,
        new CoapRequest(message, ex.peer, path, params, body, identityOf(ex)),
        entry,
        encodeBlock({ num: block.num, more: false, szx: block.szx }),
      );
    };
    if (sink !== undefined) {
      transfer.streamed = true;
      const request = new CoapRequest(message, ex.peer, path, params, new Uint8Array(0), identityOf(ex));
      let r: void | Promise<void>;
      try {
        r = sink(request, chunk, offset, block.more);
      } catch (e) {
        this.transfers.delete(key);
        this.responder.reply(ex, { code: e instanceof CoapStatusError ? e.code : Code.InternalServerError });
        return;
      }
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(continueOrFinish, (e: unknown) => {
          this.transfers.delete(key);
          this.responder.reply(ex, {
            code: e instanceof CoapStatusError ? e.code : Code.InternalServerError,
          });
        });
      } else continueOrFinish();
      return;
    }
    // Kept as a view, not copied: a received datagram's buffer is the receiver's to keep (every transport
    // hands out a fresh buffer per datagram, see `DatagramHandler`; a decrypted OSCORE request is a fresh
    // encoding too), so the only copy of the body is the one into the reassembled payload at the end.
    transfer.chunks.push(chunk);
    this.transfers.grew(key, chunk.length);
    continueOrFinish();
  }

  // ------------------------------------------------------------------ Block2

  /** Serves block NUM > 0 from the snapshot taken at block 0 (consistent representation, §2.4). */
  private serveSnapshot(ex: InboundExchange, value: number, path: readonly string[]): boolean {
    const key = this.transferKey(ex, 'b2', path);
    const snap = this.transfers.get<Block2Snapshot>(key, 2, this.clock.now());
    if (snap === undefined) return false;
    this.sendBlock(ex, key, snap, value, []);
    return true;
  }

  /** Sends one block of `snap`; the last block ends the transfer stored under `key` (if any). */
  private sendBlock(
    ex: InboundExchange,
    key: string,
    snap: Block2Snapshot,
    value: number,
    extra: readonly CoapOptionInit[],
  ): void {
    const requested = decodeBlock(value);
    const szx = Math.min(requested.szx, sizeToSzx(this.blockSize));
    const size = szxToSize(szx);
    const offset = requested.num * size;
    if (offset >= snap.payload.length && !(offset === 0 && snap.payload.length === 0)) {
      this.responder.reply(ex, {
        code: Code.BadOption,
        payload: 'Block2 beyond the end of the representation',
      });
      return;
    }
    const more = offset + size < snap.payload.length;
    const options: CoapOptionInit[] = [
      ...extra,
      { number: OptionNumber.Block2, value: encodeBlock({ num: offset / size, more, szx }) },
    ];
    if (offset === 0 || ex.message.getUint(OptionNumber.Size2) !== undefined) {
      options.push({ number: OptionNumber.Size2, value: snap.payload.length });
    }
    if (!more) this.transfers.delete(key);
    this.responder.reply(ex, {
      code: snap.code,
      payload: snap.payload.subarray(offset, offset + size),
      contentFormat: snap.contentFormat,
      maxAge: snap.maxAge,
      etag: snap.etag,
      options,
    });
  }

  /** Sends a response, split into Block2 blocks when it is larger than the block size (§2.4). */
  respondWithBlocks(ex: InboundExchange, response: ResponseInit): void {
    // a handler that set Block2 itself served one block of its own representation (no snapshot is kept)
    if (response.options?.some((o) => o.number === OptionNumber.Block2)) {
      this.responder.reply(ex, response);
      return;
    }
    const payload = toBytes(response.payload);
    const requested = ex.message.getUint(OptionNumber.Block2);
    const limit =
      requested === undefined ? this.blockSize : Math.min(this.blockSize, decodeBlock(requested).size);
    if (
      payload === undefined ||
      (payload.length <= limit && requested === undefined) ||
      response.code >>> 5 !== 2
    ) {
      this.responder.reply(ex, response);
      return;
    }
    const snap: Block2Snapshot = {
      kind: 2,
      code: response.code,
      payload,
      etag: response.etag ?? etagOf(payload),
      contentFormat: response.contentFormat,
      maxAge: response.maxAge,
      expires: this.clock.now() + this.transfers.limits.transferTimeout,
    };
    const key = this.transferKey(ex, 'b2');
    if (payload.length > limit) this.transfers.set(key, snap);
    this.sendBlock(
      ex,
      key,
      snap,
      requested ?? encodeBlock({ num: 0, more: false, szx: sizeToSzx(limit) }),
      response.options ?? [],
    );
  }
}

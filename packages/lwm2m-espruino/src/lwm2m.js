/*
 * @thimble/lwm2m-espruino: a compact LwM2M client for Espruino boards.
 *
 * Written in the subset the Espruino interpreter runs natively: no destructuring, spread, default
 * parameters, async/await, Map/Set, `?.`; no function hoisting (every helper is defined before use);
 * datagrams are binary strings. One source, two profiles: the build (scripts/build.mjs) keeps the
 * blocks between FULL-begin and FULL-end markers in `lwm2m-full.js` and drops them from `lwm2m-core.js`.
 *
 * Internal names are short on purpose: every character of code costs interpreter memory on the board
 * (about one variable per 8 characters). docs/ARCHITECTURE.md and the package README describe the API.
 */
var dgram = require('dgram');
var C = String.fromCharCode;
var isA = Array.isArray;

// CoAP codes as class * 32 + detail (RFC 7252 §12.1)
var CREATED = 65;
var DELETED = 66;
var CHANGED = 68;
var CONTENT = 69;
var BAD_REQUEST = 128;
var NOT_FOUND = 132;
var NOT_ALLOWED = 133;
var NOT_ACCEPTABLE = 134;
var UNSUPPORTED = 143;

// Content formats (LwM2M TS Core 1.1 §7.3)
var TEXT = 0;
var LINK = 40;
var TLV = 11542;
/*FULL*/
var OPAQUE = 42;
var SENML = 110;
var CONTINUE = 95;
var INCOMPLETE = 136;
/*END*/

/** An unsigned integer as its shortest big-endian bytes (RFC 7252 §3.2 uint option values). */
function uint(n) {
  var s = '';
  while (n > 0) {
    s = C(n & 255) + s;
    n = Math.floor(n / 256);
  }
  return s;
}

function num(s) {
  var n = 0;
  for (var i = 0; i < s.length; i++) n = n * 256 + s.charCodeAt(i);
  return n;
}

/**
 * Encodes a CoAP message (RFC 7252 §3). `o` holds [number, value] pairs in ascending option order,
 * values as binary strings.
 */
function enc(t, code, mid, tok, o, p) {
  var s = C(64 | (t << 4) | tok.length, code, mid >> 8, mid & 255) + tok;
  var last = 0;
  o.forEach((x) => {
    var d = x[0] - last;
    var l = x[1].length;
    var e = '';
    last = x[0];
    // RFC 7252 §3.1: delta and length nibbles 13 and 14 take one or two extended bytes
    // (deltas stay below 269 with the options this client sends)
    if (d > 12) {
      e = C(d - 13);
      d = 13;
    }
    if (l > 12 && l < 269) {
      e += C(l - 13);
      l = 13;
    }
    /*FULL*/
    if (l > 268) {
      e += C((l - 269) >> 8, (l - 269) & 255);
      l = 14;
    }
    /*END*/
    s += C((d << 4) | l) + e + x[1];
  });
  return p ? s + '\xff' + p : s;
}

/**
 * Decodes a CoAP message (RFC 7252 §3): {t, c, m, k (token), o ([number, value] pairs), p}. Throws a
 * string naming the reason for a malformed datagram (RFC 7252 §3: version 1, token length ≤ 8, nibble 15
 * only as the payload marker, no empty payload after it, options inside the datagram).
 */
function dec(b) {
  var h = b.charCodeAt(0);
  var tl = h & 15;
  var i = 4 + tl;
  var o = [];
  var n = 0;
  var p = '';
  if (b.length < 4 || h >> 6 != 1 || tl > 8 || i > b.length) throw 'header';
  while (i < b.length) {
    var x = b.charCodeAt(i++);
    if (x == 255) {
      p = b.substr(i);
      if (!p) throw 'payload';
      break;
    }
    // the delta, then the length: 13 and 14 take one or two extended bytes, 15 is reserved
    var e = [x >> 4, x & 15].map((v) => {
      if (v == 15) throw 'nibble';
      i += v > 12 ? v - 12 : 0;
      return v == 13 ? b.charCodeAt(i - 1) + 13 : v == 14 ? num(b.substr(i - 2, 2)) + 269 : v;
    });
    n += e[0];
    if (i + e[1] > b.length) throw 'option';
    o.push([n, b.substr(i, e[1])]);
    i += e[1];
  }
  return {
    t: (h >> 4) & 3,
    c: b.charCodeAt(1),
    m: (b.charCodeAt(2) << 8) | b.charCodeAt(3),
    k: b.substr(4, tl),
    o: o,
    p: p,
  };
}

/** Every value of option `n` in a decoded message. */
function all(msg, n) {
  return msg.o
    .filter((x) => {
      return x[0] == n;
    })
    .map((x) => {
      return x[1];
    });
}

/** The first value of option `n` as an unsigned integer, or -1 when absent. */
function optn(msg, n) {
  var v = all(msg, n);
  return v.length ? num(v[0]) : -1;
}

/** The type letter of a resource: i integer, f float, b boolean, s string (also opaque). */
function kind(v) {
  var t = typeof v;
  return t == 'boolean' ? 'b' : t == 'number' ? (v % 1 ? 'f' : 'i') : 's';
}

/** A signed integer in `k` big-endian two's-complement bytes (LwM2M TS Core 1.1 §C.3, TLV integers). */
function ibytes(v, k) {
  var s = '';
  for (var j = 0; j < k; j++) {
    s = C(((v % 256) + 256) % 256) + s;
    v = Math.floor(v / 256);
  }
  return s;
}

/** A single value as TLV value bytes (LwM2M TS Core 1.1 Appendix C). */
function tval(v, t) {
  if (t == 'b') return C(v ? 1 : 0);
  if (t == 'i') {
    var a = v < 0 ? -v - 1 : v;
    return ibytes(v, a < 128 ? 1 : a < 32768 ? 2 : a < 2147483648 ? 4 : 8);
  }
  if (t == 'f') {
    // (byte by byte: E.toString needs a flat string, which a full heap may not have)
    var d = new DataView(new ArrayBuffer(8));
    d.setFloat64(0, v);
    var s = '';
    for (var j = 0; j < 8; j++) s += C(d.getUint8(j));
    return s;
  }
  return '' + v;
}

/** A TLV value back to a JavaScript value of type `t`. */
function tparse(s, t) {
  if (t == 'b') return s.charCodeAt(0) == 1;
  /*FULL*/
  if (t == 'f' && s.length > 2) {
    var d = new DataView(E.toArrayBuffer(s));
    return s.length == 4 ? d.getFloat32(0) : d.getFloat64(0);
  }
  /*END*/
  if (t == 'i' || t == 'f') {
    var v = num(s);
    return s.charCodeAt(0) > 127 ? v - Math.pow(2, 8 * s.length) : v;
  }
  return s;
}

/** One TLV record: type 0 instance, 1 resource instance, 2 multiple resource, 3 resource with value. */
function tlv(type, id, v) {
  var l = v.length;
  var w = id > 255;
  var lt = l < 8 ? 0 : l < 256 ? 8 : l < 65536 ? 16 : 24;
  return (
    C((type << 6) | (w ? 32 : 0) | lt | (lt ? 0 : l)) +
    (w ? C(id >> 8) : '') +
    C(id & 255) +
    uint(l).substr(-lt / 8 || 9) +
    v
  );
}

/** TLV records of `s` as [type, id, value] (Appendix C); throws 'tlv' on malformed bytes. */
function untlv(s) {
  var r = [];
  var i = 0;
  while (i < s.length) {
    var h = s.charCodeAt(i++);
    var id = h & 32 ? num(s.substr(i, 2)) : s.charCodeAt(i);
    i += h & 32 ? 2 : 1;
    var lt = (h >> 3) & 3;
    var l = lt ? num(s.substr(i, lt)) : h & 7;
    i += lt;
    if (i + l > s.length) throw 'tlv';
    r.push([h >> 6, id, s.substr(i, l)]);
    i += l;
  }
  return r;
}

/** Text values (LwM2M TS Core 1.1 §7.3.1): booleans as 0/1. */
function text(v) {
  return v == true ? '1' : v == false ? '0' : '' + v;
}

function untext(s, t) {
  return t == 'b' ? s == '1' || s == 'true' : t == 'i' || t == 'f' ? parseFloat(s) : s;
}

/*FULL*/
/** SHA-256 (FIPS 180-4), incremental over binary strings, for firmware images checked as they arrive. */
function Sha() {
  this.h = [1779033703, -1150833019, 1013904242, -1521486534, 1359893119, -1694144372, 528734635, 1541459225];
  this.b = '';
  this.n = 0;
}
var SK = [];
(() => {
  // the round constants: first 32 bits of the fractional parts of the cube roots of the first 64 primes
  var p = 2;
  while (SK.length < 64) {
    var q = 2;
    while (q * q <= p && p % q) q++;
    if (q * q > p) SK.push(((Math.pow(p, 1 / 3) % 1) * 4294967296) | 0);
    p++;
  }
})();
Sha.prototype.u = function (s) {
  this.b += s;
  this.n += s.length;
  var w = new Int32Array(64);
  while (this.b.length >= 64) {
    var h = this.h;
    var j;
    for (j = 0; j < 16; j++)
      w[j] =
        (this.b.charCodeAt(4 * j) << 24) |
        (this.b.charCodeAt(4 * j + 1) << 16) |
        (this.b.charCodeAt(4 * j + 2) << 8) |
        this.b.charCodeAt(4 * j + 3);
    for (j = 16; j < 64; j++) {
      var x = w[j - 15];
      var y = w[j - 2];
      w[j] =
        (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
        (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) +
        w[j - 7] +
        w[j - 16];
    }
    var a = h[0];
    var b = h[1];
    var c = h[2];
    var d = h[3];
    var e = h[4];
    var f = h[5];
    var g = h[6];
    var k = h[7];
    for (j = 0; j < 64; j++) {
      var t1 =
        (k +
          (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) +
          SK[j] +
          w[j]) |
        0;
      var t2 =
        ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c))) |
        0;
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    this.h = [a, b, c, d, e, f, g, k].map((v, i) => {
      return (v + h[i]) | 0;
    });
    this.b = this.b.substr(64);
  }
};
/** The digest as a lower-case hex string. */
Sha.prototype.d = function () {
  var n = this.n;
  var z = '\x80';
  while ((n + z.length) % 64 != 56) z += '\x00';
  this.u(z + ibytes(n * 8, 8));
  return this.h
    .map((v) => {
      return ('0000000' + (v >>> 0).toString(16)).substr(-8);
    })
    .join('');
};
/*END*/

// The client's state (one client per board, see Lwm2mClient)
var o;
var api;
var host;
var port;
var lifetime;
var sid;
var objs = {};
var pending = [];
var ring = [];
var watch = [];
var attrs = {};
var mid = (Math.random() * 65536) | 0;
var seq = 0;
var loc = 0;
var ltChanged = 0;
var backoff = 0;
var ticker;
var regTimer;
var sock;

function emit(e, v, w) {
  api.emit(e, v, w);
}

/** Stops a timer if there is one (Espruino throws on clearTimeout(undefined)); gives 0. */
function clr(t) {
  if (t) clearTimeout(t);
  return 0;
}

function nmid() {
  mid = (mid + 1) & 65535;
  return mid;
}

function send(t, code, m, tok, op, p, h, pt) {
  var b = enc(t, code, m, tok, op, p);
  sock.send(b, pt || port, h || host);
  return b;
}

function done(x, r) {
  clr(x.tm);
  pending.splice(pending.indexOf(x), 1);
  x.cb(r);
}

/**
 * Sends a confirmable request to the server: `path` as Uri-Path segments, `op` the further options in
 * order; `cb(response)` with the decoded response, or `cb()` after the last retransmission (RFC 7252
 * §4.2: ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4).
 */
function req(code, path, op, p, cb, h, pt) {
  var x = {
    m: nmid(),
    k: uint((Math.random() * 4294967295) >>> 0 || 1),
    cb: cb,
  };
  // Uri-Path (11) comes before the options callers add: Content-Format (12), Uri-Query (15), Block2 (23)
  x.b = enc(
    0,
    code,
    x.m,
    x.k,
    path
      .map((s) => {
        return [11, s];
      })
      .concat(op),
    p,
  );
  retx(x, h, pt);
}

/** Sends confirmable message `x` (x.b) and retransmits it until answered (RFC 7252 §4.2). */
function retx(x, h, pt) {
  x.n = 0;
  x.to = 2000 + Math.random() * 1000;
  function again() {
    if (x.n++ > 4) return done(x);
    sock.send(x.b, pt || port, h || host);
    x.tm = setTimeout(again, x.to);
    x.to *= 2;
  }
  pending.push(x);
  again();
}

// ---- the object tree (Core §6.3)

function isH(h) {
  return h != null && typeof h == 'object' && !isA(h);
}

function val(h) {
  return isH(h) ? (h.read ? h.read() : h.value) : h;
}

function typ(h) {
  return (isH(h) && h.type) || kind(val(h));
}

function readable(h) {
  return !isH(h) || h.read || 'value' in h;
}

/** Resource `r` of instance `i` as a TLV record (a multiple resource for an array). */
function rtlv(i, r) {
  var v = val(i[r]);
  return isA(v)
    ? tlv(
        2,
        r,
        v
          .map((x, j) => {
            return tlv(1, j, tval(x, kind(x)));
          })
          .join(''),
      )
    : tlv(3, r, tval(v, typ(i[r])));
}

function itlv(inst) {
  var s = '';
  for (var r in inst) if (readable(inst[r])) s += rtlv(inst, r);
  return s;
}

/**
 * Discover (Core §6.3.4): link format with the attributes set on each path, for an instance or a
 * resource (full profile: an object too, and `dim` for multiple resources).
 */
function disc(p, h) {
  var base = '/' + p.join('/');
  var l = [base];
  if (p.length == 2) for (var r in h) l.push(base + '/' + r);
  /*FULL*/
  if (p.length == 1)
    for (var i in h)
      l = l.concat(
        disc([p[0], i], h[i])
          .split(',')
          .map((x) => x.slice(1, -1)),
      );
  /*END*/
  return l
    .map((s) => {
      var a = attrs[s];
      var x = '<' + s + '>';
      for (var k in a) x += ';' + k + '=' + a[k];
      /*FULL*/
      var v = s.split('/').length > 3 ? val(node(s.split('/').slice(1))) : 0;
      if (isA(v)) x += ';dim=' + v.length;
      /*END*/
      return x;
    })
    .join(',');
}

/** The attribute `n` for path `ps`: from the path, its parents, else the Server object's default (1/0/2, 3). */
function attr(ps, n) {
  for (var s = ps; s; s = s.substr(0, s.lastIndexOf('/')))
    if (attrs[s] && attrs[s][n] != undefined) return attrs[s][n];
  return val(objs[1][0][n == 'pmin' ? 2 : 3]);
}

/** Decodes a Write's payload into [resourceId, value] pairs for instance path `p` (Core §6.3.3). */
function writes(p, cf, pl, inst) {
  var w = [];
  function one(x) {
    // an instance record (type 0) wraps resources
    if (x[0] == 0) untlv(x[2]).forEach(one);
    if (x[0] == 3) w.push([x[1], tparse(x[2], typ(inst[x[1]]))]);
    /*FULL*/
    // a multiple resource (type 2) holds resource instances (type 1)
    if (x[0] == 2)
      w.push([
        x[1],
        untlv(x[2]).map((y) => {
          return tparse(y[2], kind(val(inst[x[1]])[0]));
        }),
      ]);
    /*END*/
  }
  if (cf == TEXT && p.length == 3) w.push([p[2], untext(pl, typ(inst[p[2]]))]);
  else if (cf == TLV) untlv(pl).forEach(one);
  /*FULL*/ else if (cf == OPAQUE && p.length == 3) w.push([p[2], pl]);
  /*FULL*/ else if (cf == SENML) w = unsenml(pl, p, inst);
  /*END*/ else throw UNSUPPORTED;
  return w;
}

/**
 * Reads path `p` (at `h` in the tree) in format `f` (-1: text for a single value, TLV otherwise; LwM2M
 * TS Core 1.1 §7.3): [code, format, payload].
 */
function read(p, h, f) {
  var v;
  var pl;
  if (p.length > 2) {
    if (!readable(h)) return [NOT_ALLOWED];
    v = val(h);
  }
  /*FULL*/
  if (p.length > 3) v = isA(v) ? v[p[3]] : undefined;
  if (p.length > 3 && v == undefined) return [NOT_FOUND];
  /*END*/
  if (f < 0) f = p.length > 2 && !isA(v) ? TEXT : TLV;
  if (f == TEXT && p.length > 2 && !isA(v)) pl = text(v);
  else if (f == TLV) {
    if (p.length == 2) pl = itlv(h);
    if (p.length == 3) pl = rtlv(objs[p[0]][p[1]], p[2]);
    /*FULL*/
    if (p.length == 1) {
      pl = '';
      for (var i in h) pl += tlv(0, i, itlv(h[i]));
    }
    if (p.length > 3) pl = tlv(1, p[3], tval(v, kind(v)));
    /*END*/
  }
  /*FULL*/
  if (f == SENML) pl = senml(p, h);
  /*END*/
  return pl == undefined ? [NOT_ACCEPTABLE] : [CONTENT, f, pl];
}

/** The handler or value at path `p` of the object tree (undefined when absent). */
function node(p) {
  var h = objs;
  for (var i = 0; i < p.length && i < 3 && h != undefined; i++) h = h[p[i]];
  return h;
}

/** Answers a request: [code, options, payload, path] (LwM2M TS Core 1.1 §6.3, §6.4). */
function serve(m) {
  var up = all(m, 11);
  var p = up.map(Number);
  var ps = '/' + up.join('/');
  var cf = optn(m, 12);
  var obs = optn(m, 6);
  var h = node(p);
  var i;
  var x;
  function r(c, op, pay) {
    return [c, op, pay, ps];
  }
  /*FULL*/
  x = full(m, p, h, cf);
  if (x) return r(x[0], x[1], x[2]);
  /*END*/
  if (!p.length || p.some(isNaN)) return r(NOT_FOUND);
  if (h == undefined) return r(NOT_FOUND);
  if (m.c == 1) {
    if (optn(m, 17) == LINK) return r(CONTENT, [[12, C(LINK)]], disc(p, h));
    x = read(p, h, optn(m, 17));
    if (x[0] != CONTENT) return r(x[0]);
    var op = [[12, uint(x[1])]];
    // RFC 7641 §3.6, §4.1: Observe 0 adds an observer (at most 8; one per path and token), 1 removes it
    watch = watch.filter((w) => {
      return w.k != m.k && (obs || w.p != ps);
    });
    if (obs == 0) {
      if (watch.length > 7) watch.shift();
      watch.push({ k: m.k, p: ps, f: x[1], t: Date.now() });
      op.unshift([6, uint(++seq & 16777215)]);
    }
    return r(CONTENT, op, x[2]);
  }
  if (m.c == 3 && !m.p && cf < 0) {
    // Write-Attributes: PUT with queries only (Core §5.1.2, §6.3.2); pmin and pmax in this client
    x = attrs[ps] || {};
    all(m, 15).forEach((q) => {
      q = q.split('=');
      if (q[1]) x[q[0]] = Number(q[1]);
      else delete x[q[0]];
    });
    attrs[ps] = x;
    return r(CHANGED);
  }
  if (m.c == 2 && p.length == 3) {
    // Execute (Core §6.3.5)
    if (!h || !h.execute) return r(NOT_ALLOWED);
    h.execute(m.p);
    return r(CHANGED);
  }
  if (m.c > 3 || p.length < 2) return r(NOT_ALLOWED);
  // Write: PUT replaces, POST updates part of an instance (Core §6.3.3)
  var inst = objs[p[0]][p[1]];
  try {
    x = writes(p, cf, m.p, inst);
  } catch (e) {
    return r(e == UNSUPPORTED ? e : BAD_REQUEST);
  }
  // each resource is checked before it is written: absent 4.04, read-only or executable 4.05
  for (i = 0; i < x.length; i++) {
    h = inst[x[i][0]];
    if (h == undefined) return r(NOT_FOUND);
    if (isH(h) && (h.execute || (h.read && !h.write))) return r(NOT_ALLOWED);
    if (!isH(h)) inst[x[i][0]] = x[i][1];
    else if (h.write) h.write(x[i][1]);
    else h.value = x[i][1];
    changed('/' + p[0] + '/' + p[1] + '/' + x[i][0], 1);
  }
  return r(CHANGED);
}

// ---- Observe (RFC 7641, LwM2M TS Core 1.1 §6.4)

/** Sends the notifications due: changed and past pmin, or past pmax (LwM2M TS Core 1.1 §5.1.2). */
function tick() {
  var now = Date.now();
  watch.forEach((w) => {
    var el = (now - w.t) / 1000;
    var pmax = attr(w.p, 'pmax');
    if ((w.ch && el >= attr(w.p, 'pmin')) || (pmax > 0 && el >= pmax)) {
      var p = w.p.split('/').slice(1).map(Number);
      var h = node(p);
      var a = h == undefined ? [0] : read(p, h, w.f);
      w.ch = 0;
      w.t = now;
      w.m = nmid();
      var op = [
        [6, uint(++seq & 16777215)],
        [12, uint(w.f)],
      ];
      if (a[0] != CONTENT) return;
      /*FULL*/
      // confirmable notifications: one that is never acknowledged ends the observation (RFC 7641 §4.5)
      var x = { m: w.m, k: w.k, a: 1, b: enc(0, CONTENT, w.m, w.k, op, a[2]) };
      x.cb = (r) => {
        if (!r)
          watch = watch.filter((y) => {
            return y != w;
          });
      };
      return retx(x);
      /*END*/
      send(
          1,
          CONTENT,
          w.m,
          w.k,
          op,
          a[2],
        );
    }
  });
}

/** Marks observers of `path` (or of a path above or below it) as changed; notifies unless `later`. */
function changed(path, later) {
  watch.forEach((w) => {
    if (w.p.indexOf(path) == 0 || path.indexOf(w.p) == 0) w.ch = 1;
  });
  // a change made by a Write is notified on the next tick, after the Write's response
  if (!later) tick();
}

function rx(b, ri) {
  var m;
  var x;
  try {
    m = dec(b);
  } catch (e) {
    return emit('error', e);
  }
  if (!m.c || m.c > 63) {
    // a response, an empty ACK or a Reset: ACK or RST by message ID, a separate response by token
    x = pending.filter((y) => {
      return m.t > 1 ? y.m == m.m : m.c && y.k == m.k;
    })[0];
    if (m.t == 0) send(2, 0, m.m, '', [], '', ri.address, ri.port);
    // a Reset of a notification cancels the observation (RFC 7641 §3.6)
    if (m.t == 3)
      watch = watch.filter((w) => {
        return w.m != m.m;
      });
    // an empty ACK stops the retransmissions: the response comes separately (RFC 7252 §5.2.2)
    if (x && m.t == 2 && !m.c && !x.a) return (x.tm = clr(x.tm));
    if (x) done(x, m.t == 3 ? undefined : m);
    // an empty message or a response is never answered as a request (RFC 7252 §4.2, §4.3)
    return;
  }
  if (m.c > 31) return;
  /*FULL*/
  // queue mode: asleep, the client does not listen (the server keeps its requests for the next Update)
  if (asleep) return;
  wake();
  /*END*/
  // a request: a duplicate gets the answer it had (RFC 7252 §4.5)
  var key = ri.port + ':' + m.m;
  var d = ring.filter((y) => {
    return y[0] == key;
  })[0];
  if (d) return sock.send(d[1], ri.port, ri.address);
  var a = serve(m);
  ring.push([
    key,
    send(m.t ? 1 : 2, a[0], m.t ? nmid() : m.m, m.k, a[1] || [], a[2] || '', ri.address, ri.port),
  ]);
  if (ring.length > 8) ring.shift();
  /*FULL*/
  emit('operation', { op: m.c, path: a[3], code: a[0] });
  /*END*/
}

// ---- registration (LwM2M TS Core 1.1 §6.2)

function links() {
  var l = '';
  /*FULL*/
  l = '</>;rt="oma.lwm2m";ct="110 11542"';
  /*END*/
  for (var ob in objs) if (ob > 0) for (var i in objs[ob]) l += ',</' + ob + '/' + i + '>';
  return l.replace(/^,/, '');
}

/** Registration failed: tries again after 10 s, then 20 s, … up to 5 min (Core §6.2.1). */
function retry(r) {
  loc = 0;
  emit('error', r ? r.c : 0);
  backoff = Math.min((backoff || 5) * 2, 300);
  clr(regTimer);
  regTimer = setTimeout(register, backoff * 1000);
}

/** Schedules the next Update at 90 % of the lifetime (Core §6.2.2). */
function schedule(ev, arg) {
  backoff = 0;
  clr(regTimer);
  regTimer = setTimeout(update, lifetime * 900);
  emit(ev, arg);
}

function register() {
  var q = ['ep=' + o.endpoint, 'lt=' + lifetime, 'lwm2m=1.0', 'b=' + objs[1][0][7]];
  /*FULL*/
  q[2] = 'lwm2m=1.1';
  // queue mode in 1.1 is the Q parameter, the binding stays U (Core 1.1 §6.2.1.1)
  if (o.queue) q[3] = 'b=U';
  if (o.queue) q.push('Q');
  wake();
  /*END*/
  req(
    2,
    ['rd'],
    [[12, C(LINK)]].concat(
      q.map((s) => {
        return [15, s];
      }),
    ),
    links(),
    (r) => {
      /*FULL*/
      wake();
      /*END*/
      if (!r || r.c != CREATED) return retry(r);
      loc = all(r, 8);
      schedule('registered', '/' + loc.join('/'));
    },
  );
}

/** Sends an Update (Core §6.2.2): `withObjects` adds the object links, a lifetime change adds `lt`. */
function update(withObjects) {
  if (!loc) return;
  var op = [];
  if (withObjects) op.push([12, C(LINK)]);
  if (ltChanged) op.push([15, 'lt=' + lifetime]);
  /*FULL*/
  wake();
  /*END*/
  req(2, loc, op, withObjects ? links() : '', (r) => {
    /*FULL*/
    wake();
    /*END*/
    if (r && r.c == CHANGED) schedule('updated');
    else if (r && r.c >= BAD_REQUEST) register();
    else retry(r);
  });
}

/*FULL*/
// ---- full profile: SenML JSON, Create/Delete, Firmware Update (object 5), Send, queue mode

// Queue mode (LwM2M TS Core 1.1 §6.5, Transport §6.5): awake for `o.awake` seconds (default 93,
// MAX_TRANSMIT_WAIT) after the client last heard from or spoke to the server, then asleep: requests are
// not answered until the next Register or Update wakes the client.
var asleep = 0;
var awakeTimer;

function wake() {
  if (!o.queue) return;
  asleep = 0;
  clr(awakeTimer);
  awakeTimer = setTimeout(() => {
    asleep = 1;
    emit('sleep');
  }, (o.awake || 93) * 1000);
}

/** SenML JSON (RFC 8428, LwM2M TS Core 1.1 §7.4.4) of path `p` at `h`: full names, no base name. */
function senml(p, h) {
  var out = [];
  function res(path, r) {
    var v = val(r);
    var t = typ(r);
    (isA(v) ? v : [v]).forEach((x, j) => {
      var e = { n: path + (isA(v) ? '/' + j : '') };
      if (t == 'o') e.vd = btoa(x);
      else e[{ b: 'vb', s: 'vs' }[kind(x)] || 'v'] = x;
      out.push(e);
    });
  }
  function inst(path, i) {
    for (var r in i) if (readable(i[r])) res(path + '/' + r, i[r]);
  }
  var base = '/' + p.join('/');
  if (p.length > 2) res(base, h);
  if (p.length == 2) inst(base, h);
  if (p.length == 1) for (var i in h) inst(base + '/' + i, h[i]);
  return JSON.stringify(out);
}

/** SenML JSON records for instance path `p` as [resourceId, value] pairs (bn + n names a resource). */
function unsenml(pl, p, inst) {
  var bn = '';
  var w = [];
  JSON.parse(pl).forEach((e) => {
    if (e.bn != undefined) bn = e.bn;
    var q = (bn + (e.n || '')).split('/');
    var r = q.length > 3 ? q[3] : p[2];
    var v = e.vd != undefined ? atob(e.vd) : e.v != undefined ? e.v : e.vs != undefined ? e.vs : e.vb;
    if (q.length > 4) {
      var a = (w.filter((x) => x[0] == r)[0] || w[w.push([r, []]) - 1])[1];
      a[q[4]] = v;
    } else w.push([r, v]);
  });
  if (inst == undefined) throw BAD_REQUEST;
  return w;
}

// Firmware Update (LwM2M TS Core 1.1 Appendix E.6): state 0 idle, 1 downloading, 2 downloaded,
// 3 updating; Update Result 0 initial, 1 success, 2 not enough flash, 4 connection lost, 5 integrity
// check failure, 7 invalid URI, 8 update failed. The image goes to Storage as it arrives (never whole
// in RAM) and its SHA-256 is checked against /30500/0/0 when the server wrote one.
var fw = { s: 0, r: 0, n: 0, u: '' };

function fwSet(s, r) {
  fw.s = s;
  fw.r = r;
  emit('firmware', s, r);
  changed('/5/0/3');
  changed('/5/0/5');
}

/** Starts a download of `size` bytes (0: unknown, the largest the client takes). */
function fwStart(size) {
  var S = require('Storage');
  fw.f = o.firmwareFile || 'fw';
  fw.t = size > 0 ? size : o.firmwareMax || 131072;
  fw.n = 0;
  fw.h = new Sha();
  S.erase(fw.f);
  if (fw.t > S.getFree()) return fwSet(0, 2);
  fwSet(1, 0);
}

/** One chunk of the image, written at its offset; false when the image outgrows its space. */
function fwChunk(b) {
  if (fw.n + b.length > fw.t) {
    fwSet(0, 2);
    return false;
  }
  require('Storage').write(fw.f, b, fw.n, fw.t);
  fw.n += b.length;
  fw.h.u(b);
  return true;
}

function fwEnd() {
  var want = val(objs[30500][0][0]);
  var got = fw.h.d();
  var hex = '';
  for (var i = 0; i < (want || '').length; i++) hex += (256 + want.charCodeAt(i)).toString(16).substr(1);
  fw.d = got;
  if (hex && hex != got) return fwSet(0, 5);
  fwSet(2, 0);
}

/** Pull (Appendix E.6): GETs the Package URI block by block (RFC 7959 Block2, 256 bytes: see `full`). */
function fwPull(num) {
  // coap://host[:port]/path (no regular expression: Espruino's engine misses optional groups); coaps
  // is not supported here: Update Result 7
  var r = fw.u.substr(7);
  var i = r.indexOf('/');
  var u = r.substr(0, i).split(':');
  if (fw.u.indexOf('coap://') || i < 1) return fwSet(0, 7);
  if (!num) fwSet(1, 0);
  req(
    1,
    r.substr(i + 1).split('/'),
    [[23, uint((num << 4) | 4)]],
    '',
    (r) => {
      if (fw.s != 1) return;
      if (!r || r.c != CONTENT) return fwSet(0, r ? 7 : 4);
      if (num == 0) fwStart(optn(r, 28));
      var b2 = optn(r, 23);
      if (!fwChunk(r.p)) return;
      if (b2 >= 0 && b2 & 8) return fwPull(num + 1);
      fwEnd();
    },
    u[0],
    Number(u[1]) || 5683,
  );
}

/**
 * Requests the full profile answers itself: Block1 writes of /5/0/0 (push), Create (POST on an object)
 * and Delete; undefined for the others. [code, options].
 */
function full(m, p, h, cf) {
  var b1 = optn(m, 27);
  if (booting) {
    var bt = boot(m, p);
    if (bt) return bt;
  }
  if (p.some(isNaN)) return;
  if (p[0] == 5 && p[2] == 0 && m.c == 3) {
    // push: PUT /5/0/0 in blocks (RFC 7959 §2.5); a block out of order answers 4.08. Espruino's UDP
    // takes datagrams of up to 528 bytes: blocks above 256 bytes get 4.13 with SZX 4, the size to
    // start over with (RFC 7959 §2.9.3).
    if ((b1 & 7) > 4) return [141, [[27, C(4)]]];
    var n = b1 < 0 ? 0 : b1 >> 4;
    if (n == 0) fwStart(optn(m, 60));
    else if (fw.s != 1 || n * (16 << (b1 & 7)) != fw.n) return [INCOMPLETE];
    if (fw.s != 1 || !fwChunk(m.p)) return [141];
    if (b1 >= 0 && b1 & 8) return [CONTINUE, [[27, uint(b1)]]];
    fwEnd();
    return [CHANGED, b1 < 0 ? [] : [[27, uint(b1)]]];
  }
  if (m.c == 2 && p.length == 1 && h) {
    // Create (Core §6.3.7): TLV instance records, or resources for the lowest free instance id
    var id = 0;
    while (h[id]) id++;
    var t = h[Object.keys(h)[0]] || {};
    var recs = cf == TLV ? untlv(m.p) : [];
    if (recs.length && recs[0][0] == 0) {
      id = recs[0][1];
      m.p = recs[0][2];
    }
    // in SenML JSON the instance id is in the records' names: bn + n = /object/instance/resource
    if (cf == SENML) {
      var e0 = JSON.parse(m.p)[0] || {};
      var q = ((e0.bn || '') + (e0.n || '')).split('/');
      if (q[2]) id = Number(q[2]);
    }
    if (h[id]) return [BAD_REQUEST];
    var res = {};
    try {
      writes([p[0], id], cf, m.p, t).forEach((x) => {
        res[x[0]] = x[1];
      });
    } catch (e) {
      return [BAD_REQUEST];
    }
    addInstance(p[0], id, res);
    return [CREATED, [[8, '' + p[0]], [8, '' + id]]];
  }
  if (m.c == 4) {
    // Delete (Core §6.3.8) of an instance of an app object
    if (p.length != 2 || !h || p[0] < 4) return [NOT_ALLOWED];
    delete objs[p[0]][p[1]];
    update(1);
    return [DELETED];
  }
}

/**
 * Execute /5/0/2: updating (state 3), then the app's `install(file, length, done)` (or, without one,
 * success); `done(ok)` gives Update Result 1 or 8 (Appendix E.6).
 */
function fwUpdate() {
  if (fw.s != 2) return;
  fwSet(3, 0);
  setTimeout(() => {
    function done(ok) {
      fwSet(0, ok ? 1 : 8);
    }
    if (o.install) o.install(fw.f, fw.n, done);
    else done(1);
  }, 10);
}

// ---- client-initiated bootstrap (LwM2M TS Core 1.1 §6.1.3, §5.2.7): Bootstrap-Request with pct=TLV,
// then the bootstrap server's Delete, Write of Security (0) and Server (1) instances, Bootstrap-Finish.
var booting = 0;
// resource types of the Security and Server objects, for their TLV writes
var BT = { 0: 'sbiooo____i', 1: 'iiii_ib s' };

function bootstrap() {
  booting = 1;
  req(2, ['bs'], [[15, 'ep=' + o.endpoint], [15, 'pct=11542']], '', (r) => {
    if (r && r.c == CHANGED) return;
    emit('error', r ? r.c : 0);
    regTimer = setTimeout(bootstrap, 10000);
  });
}

/** The bootstrap server's requests: [code, options] or undefined for the others. */
function boot(m, p) {
  if (m.c == 2 && all(m, 11).join('/') == 'bs') {
    // Bootstrap-Finish: register with the LwM2M server of the Security instance without Bootstrap-Server
    for (var i in objs[0]) {
      var sec = objs[0][i];
      if (sec[1] === false && /^coap:\/\//.test(sec[0])) {
        var hp = sec[0].substr(7).split('/')[0].split(':');
        host = hp[0];
        port = Number(hp[1]) || 5683;
      }
    }
    for (i in objs[1]) lifetime = objs[1][i][1] || lifetime;
    booting = 0;
    objs[1][Object.keys(objs[1])[0]][7] = objs[1][Object.keys(objs[1])[0]][7] || 'U';
    emit('bootstrapped');
    setTimeout(register, 10);
    return [CHANGED];
  }
  if (m.c == 4 && p.length < 3) {
    // Bootstrap-Delete of /, /0, /1 or one of their instances
    [0, 1].forEach((ob) => {
      if (!p.length || p[0] == ob) {
        if (p.length == 2) delete objs[ob][p[1]];
        else objs[ob] = {};
      }
    });
    return [DELETED];
  }
  if (m.c == 3 && p.length == 2 && BT[p[0]]) {
    // Bootstrap-Write of a whole Security or Server instance (TLV, as asked with pct)
    var inst = objs[p[0]][p[1]] || {};
    try {
      untlv(m.p).forEach((x) => {
        var t = BT[p[0]].charAt(x[1]);
        if (x[0] == 3) inst[x[1]] = tparse(x[2], t == 'b' || t == 'i' ? t : 's');
      });
    } catch (e) {
      return [BAD_REQUEST];
    }
    objs[p[0]][p[1]] = inst;
    return [CHANGED];
  }
}

/** Send (LwM2M TS Core 1.1 §6.4.3): the values of `paths` as SenML JSON, POST /dp. */
function sendValues(paths, cb) {
  var all2 = [];
  paths.forEach((s) => {
    var q = s.split('/').slice(1);
    all2 = all2.concat(JSON.parse(senml(q, node(q))));
  });
  req(2, ['dp'], [[12, C(SENML)]], JSON.stringify(all2), (r) => {
    if (cb) cb(!!r && r.c == CHANGED);
  });
}
/*END*/

/** Adds (or replaces) an object instance: resources as values or {read, write, execute} handlers. */
function addInstance(ob, i, res) {
  objs[ob] = objs[ob] || {};
  objs[ob][i] = res;
  // the server learns about a new instance with an Update (LwM2M TS Core 1.1 §6.2.2)
  update(1);
}

/** Binds the socket and registers (LwM2M TS Core 1.1 §6.2.1), or bootstraps first (full profile). */
function start() {
  sock = dgram.createSocket('udp4');
  sock.on('message', rx);
  sock.bind(o.localPort || 0);
  ticker = setInterval(tick, 1000);
  /*FULL*/
  if (o.bootstrap) return bootstrap();
  /*END*/
  register();
}

/** De-registers (Core §6.2.3), then closes the socket; `cb` runs when that is over. */
function stop(cb) {
  clr(ticker);
  clr(regTimer);
  /*FULL*/
  awakeTimer = clr(awakeTimer);
  /*END*/
  function end() {
    pending.forEach((x) => {
      clr(x.tm);
    });
    pending = [];
    sock.close();
    emit('deregistered');
    if (cb) cb();
  }
  var l = loc;
  loc = 0;
  if (!l) return end();
  req(4, l, [], '', end);
}

function ltRead() {
  return lifetime;
}

/** A new lifetime (Write of /1/0/1) goes to the server with an Update (Core §6.2.2). */
function ltWrite(v) {
  lifetime = v;
  ltChanged = 1;
  setTimeout(update, 10);
}

/**
 * The client. `o` (options): endpoint (the endpoint name), host and port of the LwM2M server (default
 * 5683), lifetime (s, default 300), shortId (default 1), localPort (default any); full profile: bootstrap
 * (true: host/port name the bootstrap server), queue (true: queue mode, LwM2M TS Core 1.1 §6.5),
 * firmwareFile. Events (Espruino's `on`): registered (location), updated, deregistered, error (reason),
 * operation ({op, path, code}); full profile: bootstrapped, firmware (state, result).
 *
 * One client per board: its state and functions are the module's own (minified to short names, defined
 * once: on Espruino a function made inside another copies its code into RAM each time).
 */
function Lwm2mClient(opts) {
  o = opts;
  api = this;
  host = o.host;
  port = o.port || 5683;
  lifetime = o.lifetime || 300;
  sid = o.shortId || 1;
  addInstance(0, 0, { 0: 'coap://' + host + ':' + port, 1: !!o.bootstrap, 2: 3, 10: sid });
  /*FULL*/
  addInstance(5, 0, {
    0: { write: () => 0 },
    1: { read: () => fw.u, write: (u) => ((fw.u = u) ? fwPull(0) : fwSet(0, 0)) },
    2: { execute: fwUpdate },
    3: { read: () => fw.s },
    5: { read: () => fw.r },
    9: 2,
  });
  addInstance(30500, 0, { 0: { value: '', type: 'o' } });
  /*END*/
  addInstance(1, 0, {
    0: sid,
    1: { read: ltRead, write: ltWrite },
    2: 0,
    3: 0,
    6: false,
    7: o.queue ? 'UQ' : 'U',
    8: { execute: update },
  });
}

var proto = Lwm2mClient.prototype;
proto.addInstance = addInstance;
proto.changed = changed;
proto.update = update;
proto.start = start;
proto.stop = stop;
/*FULL*/
proto.send = sendValues;
/*END*/
exports.Lwm2mClient = Lwm2mClient;
/*FULL*/
exports.encode = enc;
exports.decode = dec;
/*END*/

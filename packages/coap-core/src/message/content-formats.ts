/**
 * CoAP Content-Formats (RFC 7252 §12.3 and the IANA registry, including OMA LwM2M's 11542–11544).
 */
export const ContentFormat = {
  TextPlain: 0,
  CoseEncrypt0: 16,
  CoseMac0: 17,
  CoseSign1: 18,
  LinkFormat: 40,
  Xml: 41,
  OctetStream: 42,
  Exi: 47,
  Json: 50,
  JsonPatchJson: 51,
  MergePatchJson: 52,
  Cbor: 60,
  Cwt: 61,
  MultipartCore: 62,
  CborSeq: 63,
  CoseEncrypt: 96,
  CoseMac: 97,
  CoseSign: 98,
  CoseKey: 101,
  CoseKeySet: 102,
  SenmlJson: 110,
  SensmlJson: 111,
  SenmlCbor: 112,
  SensmlCbor: 113,
  SenmlExi: 114,
  SensmlExi: 115,
  CoapGroupJson: 256,
  ProblemDetailsCbor: 257,
  SenmlXml: 310,
  SensmlXml: 311,
  Lwm2mTlv: 11542,
  Lwm2mJson: 11543,
  Lwm2mCbor: 11544,
} as const;
export type ContentFormat = (typeof ContentFormat)[keyof typeof ContentFormat];

const MEDIA_TYPES: Record<number, string> = {
  0: 'text/plain;charset=utf-8',
  16: 'application/cose;cose-type="cose-encrypt0"',
  17: 'application/cose;cose-type="cose-mac0"',
  18: 'application/cose;cose-type="cose-sign1"',
  40: 'application/link-format',
  41: 'application/xml',
  42: 'application/octet-stream',
  47: 'application/exi',
  50: 'application/json',
  51: 'application/json-patch+json',
  52: 'application/merge-patch+json',
  60: 'application/cbor',
  61: 'application/cwt',
  62: 'application/multipart-core',
  63: 'application/cbor-seq',
  96: 'application/cose;cose-type="cose-encrypt"',
  97: 'application/cose;cose-type="cose-mac"',
  98: 'application/cose;cose-type="cose-sign"',
  101: 'application/cose-key',
  102: 'application/cose-key-set',
  110: 'application/senml+json',
  111: 'application/sensml+json',
  112: 'application/senml+cbor',
  113: 'application/sensml+cbor',
  114: 'application/senml-exi',
  115: 'application/sensml-exi',
  256: 'application/coap-group+json',
  257: 'application/concise-problem-details+cbor',
  310: 'application/senml+xml',
  311: 'application/sensml+xml',
  11542: 'application/vnd.oma.lwm2m+tlv',
  11543: 'application/vnd.oma.lwm2m+json',
  11544: 'application/vnd.oma.lwm2m+cbor',
};

const BY_MEDIA_TYPE = new Map<string, number>(
  Object.entries(MEDIA_TYPES).map(([n, t]) => [t.replace(/\s+/g, '').toLowerCase(), Number(n)]),
);
BY_MEDIA_TYPE.set('text/plain', 0);

/** The media type of a registered Content-Format, or undefined. */
export function contentFormatMediaType(format: number): string | undefined {
  return MEDIA_TYPES[format];
}

/**
 * Resolves a Content-Format given as a number (`"11542"`) or a media type (`"application/cbor"`).
 * Returns undefined when it is neither.
 */
export function parseContentFormat(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n <= 0xffff ? n : undefined;
  }
  return BY_MEDIA_TYPE.get(t.replace(/\s+/g, '').toLowerCase());
}

const EXTENSIONS: Record<string, number> = {
  txt: 0,
  text: 0,
  md: 0,
  html: 0,
  csv: 0,
  xml: 41,
  json: 50,
  cbor: 60,
  wlnk: 40,
  bin: 42,
  senml: 110,
  tlv: 11542,
};

/** A Content-Format guessed from a file extension (for file servers), defaulting to octet-stream. */
export function contentFormatForExtension(ext: string): number {
  return EXTENSIONS[ext.replace(/^\./, '').toLowerCase()] ?? 42;
}

/**
 * OMA object definition (DDF) XML → `ObjectDefinition` (schema LWM2M.xsd of the OMA LwM2M registry;
 * LwM2M TS Core 1.1 Appendix D). Portable: fast-xml-parser is plain JavaScript, no Node APIs.
 *
 * ```xml
 * <LWM2M><Object ObjectType="MODefinition">
 *   <Name>Temperature</Name><ObjectID>3303</ObjectID><ObjectVersion>1.1</ObjectVersion>
 *   <LWM2MVersion>1.0</LWM2MVersion><MultipleInstances>Multiple</MultipleInstances>
 *   <Mandatory>Optional</Mandatory>
 *   <Resources><Item ID="5700"><Name>Sensor Value</Name><Operations>R</Operations>
 *     <MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Float</Type>
 *     <RangeEnumeration/><Units/><Description>…</Description></Item></Resources>
 * </Object></LWM2M>
 * ```
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { Lwm2mError } from '../util/errors.js';
import {
  type ObjectDefinition,
  RESOURCE_TYPES,
  type ResourceDefinition,
  type ResourceOperations,
  type ResourceType,
} from './definitions.js';
import { ObjectRegistryError, validateObjectDefinition } from './registry.js';

export type DdfErrorReason = 'not-xml' | 'missing-element' | 'invalid-value' | 'too-large';

export class DdfError extends Lwm2mError<DdfErrorReason> {
  override readonly name = 'DdfError';
  /** The file (or other source name) the definition came from. */
  readonly source: string;
  constructor(reason: DdfErrorReason, source: string, detail: string) {
    super(reason, `${source}: ${detail}`);
    this.source = source;
  }
}

/** Bound on the size of one DDF document (the largest OMA registry files are well under 1 MB). */
const MAX_DDF_CHARS = 4 * 1024 * 1024;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => name === 'Object' || name === 'Item',
});

type XmlNode = { [key: string]: unknown };

const TYPES_BY_LOWER: { [k: string]: ResourceType } = {};
for (const t of RESOURCE_TYPES) TYPES_BY_LOWER[t.toLowerCase()] = t;
TYPES_BY_LOWER[''] = 'none';
TYPES_BY_LOWER.unsigned = 'Unsigned Integer';

function text(node: XmlNode, key: string): string | undefined {
  const v = node[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && '#text' in v) return String((v as XmlNode)['#text']);
  if (typeof v === 'object') return '';
  return String(v);
}

function required(node: XmlNode, key: string, source: string, where: string): string {
  const v = text(node, key);
  if (v === undefined) throw new DdfError('missing-element', source, `${where}: missing <${key}>`);
  return v;
}

function multiplicity(v: string, source: string, where: string): boolean {
  if (v === 'Multiple') return true;
  if (v === 'Single') return false;
  throw new DdfError(
    'invalid-value',
    source,
    `${where}: <MultipleInstances> is "${v}", not Single or Multiple`,
  );
}

function mandatory(v: string, source: string, where: string): boolean {
  if (v === 'Mandatory') return true;
  if (v === 'Optional') return false;
  throw new DdfError('invalid-value', source, `${where}: <Mandatory> is "${v}", not Mandatory or Optional`);
}

function id(v: string, source: string, where: string): number {
  if (!/^[0-9]{1,5}$/.test(v.trim()) || Number(v) > 65534) {
    throw new DdfError('invalid-value', source, `${where}: "${v}" is not an id 0–65534`);
  }
  return Number(v);
}

function resource(item: XmlNode, source: string, objectWhere: string): ResourceDefinition {
  const rawId = item['@ID'];
  if (typeof rawId !== 'string')
    throw new DdfError('missing-element', source, `${objectWhere}: <Item> without ID`);
  const rid = id(rawId, source, `${objectWhere} <Item ID>`);
  const where = `${objectWhere} resource ${rid}`;
  const name = required(item, 'Name', source, where).replace(/\s+/g, ' ');
  const ops = (text(item, 'Operations') ?? '').toUpperCase();
  let operations: ResourceOperations;
  if (ops === 'R' || ops === 'W' || ops === 'RW' || ops === 'E') operations = ops;
  else if (ops === '' || ops === 'NONE') operations = 'none';
  else throw new DdfError('invalid-value', source, `${where}: <Operations> is "${ops}"`);
  const rawType = (text(item, 'Type') ?? '').trim().toLowerCase();
  const type = TYPES_BY_LOWER[rawType];
  if (type === undefined)
    throw new DdfError('invalid-value', source, `${where}: unknown <Type> "${rawType}"`);
  const def: {
    -readonly [K in keyof ResourceDefinition]: ResourceDefinition[K];
  } = {
    id: rid,
    name,
    operations,
    multiple: multiplicity(required(item, 'MultipleInstances', source, where), source, where),
    mandatory: mandatory(required(item, 'Mandatory', source, where), source, where),
    type: operations === 'E' && type === 'none' ? 'none' : type,
  };
  const range = text(item, 'RangeEnumeration');
  if (range) def.range = range;
  const units = text(item, 'Units');
  if (units) def.units = units;
  const description = text(item, 'Description');
  if (description) def.description = description;
  return def;
}

/**
 * Parses a DDF document (one or more `<Object>` elements under `<LWM2M>`). `sourceName` (a file name)
 * appears in every error. Throws `DdfError`.
 */
export function parseObjectDefinitionXml(xml: string, sourceName: string): ObjectDefinition[] {
  if (xml.length > MAX_DDF_CHARS)
    throw new DdfError('too-large', sourceName, `more than ${MAX_DDF_CHARS} characters`);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const e = valid.err;
    throw new DdfError('not-xml', sourceName, `line ${e.line}, column ${e.col}: ${e.msg}`);
  }
  let doc: XmlNode;
  try {
    doc = parser.parse(xml) as XmlNode;
  } catch (e) {
    throw new DdfError('not-xml', sourceName, (e as Error).message);
  }
  const root = doc.LWM2M as XmlNode | undefined;
  if (root === undefined || typeof root !== 'object') {
    throw new DdfError('missing-element', sourceName, 'no <LWM2M> root element');
  }
  const objects = root.Object as XmlNode[] | undefined;
  if (!Array.isArray(objects) || objects.length === 0) {
    throw new DdfError('missing-element', sourceName, 'no <Object> in <LWM2M>');
  }
  return objects.map((o, k) => {
    const where0 = `<Object> #${k + 1}`;
    const oid = id(required(o, 'ObjectID', sourceName, where0), sourceName, `${where0} <ObjectID>`);
    const where = `object ${oid}`;
    const resourcesNode = o.Resources as XmlNode | string | undefined;
    const items =
      typeof resourcesNode === 'object' && resourcesNode !== null
        ? (resourcesNode.Item as XmlNode[] | undefined)
        : [];
    if (resourcesNode === undefined)
      throw new DdfError('missing-element', sourceName, `${where}: missing <Resources>`);
    const def: ObjectDefinition = {
      id: oid,
      name: required(o, 'Name', sourceName, where),
      version: text(o, 'ObjectVersion') || '1.0',
      lwm2mVersion: text(o, 'LWM2MVersion') || '1.0',
      multiple: multiplicity(required(o, 'MultipleInstances', sourceName, where), sourceName, where),
      mandatory: mandatory(required(o, 'Mandatory', sourceName, where), sourceName, where),
      resources: (items ?? []).map((item) => resource(item, sourceName, where)),
      ...(text(o, 'Description1') ? { description: text(o, 'Description1') } : {}),
    };
    try {
      validateObjectDefinition(def);
    } catch (e) {
      if (e instanceof ObjectRegistryError) throw new DdfError('invalid-value', sourceName, e.message);
      throw e;
    }
    return def;
  });
}

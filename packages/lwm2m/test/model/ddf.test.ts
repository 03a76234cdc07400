import { readFileSync } from 'node:fs';
import {
  BUILTIN_OBJECTS,
  DdfError,
  findResource,
  ObjectRegistry,
  parseObjectDefinitionXml,
} from '@thimble/lwm2m';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addObjectDefinitionFiles,
  loadObjectDefinitionDirectory,
  loadObjectDefinitionFile,
} from '../../src/node/index.js';
import { vectorPath } from '../helpers.js';

const fixture = (name: string) => vectorPath(`lwm2m/ddf/${name}`);

describe('DDF XML (OMA LWM2M.xsd, LwM2M TS Core 1.1 Appendix D)', () => {
  it('parses an object with its resources, ranges, units and an executable resource', () => {
    const [t] = parseObjectDefinitionXml(
      readFileSync(fixture('3303-temperature.xml'), 'utf8'),
      '3303-temperature.xml',
    );
    expect(t).toMatchObject({
      id: 3303,
      name: 'Temperature',
      version: '1.1',
      lwm2mVersion: '1.0',
      multiple: true,
      mandatory: false,
    });
    expect(t!.resources.map((r) => r.id)).toEqual([5700, 5601, 5605, 5518]);
    expect(findResource(t!, 5700)).toMatchObject({
      name: 'Sensor Value',
      type: 'Float',
      operations: 'R',
      mandatory: true,
      units: 'Cel',
    });
    expect(findResource(t!, 5605)).toMatchObject({ operations: 'E', type: 'none' });
    expect(findResource(t!, 5518)!.type).toBe('Time');
  });

  it('agrees with the built-in definition on the facts both have', () => {
    const [t] = parseObjectDefinitionXml(readFileSync(fixture('3303-temperature.xml'), 'utf8'), 'x');
    const builtin = BUILTIN_OBJECTS.find((o) => o.id === 3303)!;
    for (const r of t!.resources) {
      const b = findResource(builtin, r.id)!;
      expect([b.name, b.type, b.operations, b.multiple, b.mandatory]).toEqual([
        r.name,
        r.type,
        r.operations,
        r.multiple,
        r.mandatory,
      ]);
    }
  });

  it('reads every data type, 16-bit ids, entities and defaults', () => {
    const [o] = parseObjectDefinitionXml(readFileSync(fixture('32769-thimble-test.xml'), 'utf8'), 't.xml');
    expect(o!.description).toBe('Every data type & operation, for tests.');
    expect(o!.resources.map((r) => r.type)).toEqual([
      'String',
      'Integer',
      'Unsigned Integer',
      'Float',
      'Boolean',
      'Opaque',
      'Time',
      'Objlnk',
      'Corelnk',
      'none',
    ]);
    expect(findResource(o!, 7)!.multiple).toBe(true);
    expect(findResource(o!, 3)!.range).toBe('-40..85');
  });

  it('names the file and what is wrong', () => {
    const name = 'broken-unknown-type.xml';
    try {
      parseObjectDefinitionXml(readFileSync(fixture(name), 'utf8'), name);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DdfError);
      expect((e as DdfError).reason).toBe('invalid-value');
      expect((e as DdfError).message).toMatch(
        /^broken-unknown-type\.xml: object 32770 resource 1: unknown <Type> "decimal"/,
      );
    }
    expect(() =>
      parseObjectDefinitionXml(readFileSync(fixture('broken-not-xml.xml'), 'utf8'), 'b.xml'),
    ).toThrow(/^b\.xml: line \d+/);
  });

  it('reports missing elements and bad values', () => {
    const wrap = (inner: string) => `<LWM2M><Object>${inner}</Object></LWM2M>`;
    const reason = (xml: string) => {
      try {
        parseObjectDefinitionXml(xml, 'f.xml');
      } catch (e) {
        return e instanceof DdfError ? e.reason : 'other';
      }
      return 'none';
    };
    expect(reason('<Other/>')).toBe('missing-element');
    expect(reason(wrap('<Name>x</Name>'))).toBe('missing-element');
    expect(reason(wrap('<Name>x</Name><ObjectID>70000</ObjectID>'))).toBe('invalid-value');
    expect(
      reason(
        wrap(
          '<Name>x</Name><ObjectID>1</ObjectID><MultipleInstances>Many</MultipleInstances><Mandatory>Optional</Mandatory><Resources/>',
        ),
      ),
    ).toBe('invalid-value');
    expect(reason('not xml at all <')).toBe('not-xml');
  });
});

describe('DDF files on Node (src/node)', () => {
  it('loads a file, and a folder of files, into a registry', async () => {
    const defs = await loadObjectDefinitionFile(fixture('32769-thimble-test.xml'));
    expect(defs[0]!.id).toBe(32769);
    await expect(loadObjectDefinitionDirectory(vectorPath('lwm2m/ddf'))).rejects.toThrow(DdfError);
    const reg = new ObjectRegistry(BUILTIN_OBJECTS);
    await addObjectDefinitionFiles(
      reg,
      [fixture('32769-thimble-test.xml'), fixture('3303-temperature.xml')],
      true,
    );
    expect(reg.getObject(32769)!.name).toBe('Thimble Test');
    expect(reg.getResource(3303, 5700)!.units).toBe('Cel');
  });

  it('names the file in the error', async () => {
    const path = fixture('broken-unknown-type.xml');
    await expect(loadObjectDefinitionFile(path)).rejects.toThrow(path);
  });
});

describe('DDF parser on arbitrary input (fast-check)', () => {
  it('only ever throws DdfError', () => {
    const tags = [
      'LWM2M',
      'Object',
      'Name',
      'ObjectID',
      'MultipleInstances',
      'Mandatory',
      'Resources',
      'Item',
      'Type',
      'Operations',
    ];
    const xmlish = fc
      .array(
        fc.oneof(
          fc.constantFrom(...tags).map((t) => `<${t}>`),
          fc.constantFrom(...tags).map((t) => `</${t}>`),
          fc.constantFrom(
            '<Item ID="1">',
            '3',
            'Single',
            'Multiple',
            'Optional',
            'Mandatory',
            'String',
            'RW',
            '&amp;',
            '<!-- c -->',
          ),
        ),
        { maxLength: 40 },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), xmlish), (xml) => {
        try {
          parseObjectDefinitionXml(xml, 'fuzz.xml');
        } catch (e) {
          if (!(e instanceof DdfError)) throw e;
          expect((e as DdfError).message.startsWith('fuzz.xml: ')).toBe(true);
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 1000) },
    );
  });
});

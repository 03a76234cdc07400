import {
  BUILTIN_OBJECTS,
  findResource,
  isExecutable,
  isReadable,
  ObjectRegistry,
  ObjectRegistryError,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';

const reg = new ObjectRegistry(BUILTIN_OBJECTS);

describe('built-in object definitions (OMA LwM2M registry facts)', () => {
  it('has the objects issue 6 asks for', () => {
    expect(reg.list().map((o) => o.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 21, 3300, 3303, 3304, 3311]);
  });

  it('Device (3): resources of TS Core Appendix E.4 with their types and multiplicity', () => {
    const dev = reg.getObject(3)!;
    expect(dev.name).toBe('Device');
    expect(dev.multiple).toBe(false);
    expect(dev.mandatory).toBe(true);
    const r = (id: number) => findResource(dev, id)!;
    expect([r(0).name, r(0).type, r(0).operations]).toEqual(['Manufacturer', 'String', 'R']);
    expect([r(4).name, r(4).type, isExecutable(r(4))]).toEqual(['Reboot', 'none', true]);
    expect([r(6).name, r(6).multiple, r(6).type]).toEqual(['Available Power Sources', true, 'Integer']);
    expect([r(11).name, r(11).mandatory, r(11).multiple]).toEqual(['Error Code', true, true]);
    expect([r(13).name, r(13).type, r(13).operations]).toEqual(['Current Time', 'Time', 'RW']);
    expect([r(16).name, r(16).mandatory]).toEqual(['Supported Binding and Modes', true]);
    expect([r(9).range, r(9).units]).toEqual(['0..100', '/100']);
  });

  it('Server (1) and Security (0): operations, including resources no server may access', () => {
    expect(reg.getResource(1, 1)).toMatchObject({
      name: 'Lifetime',
      operations: 'RW',
      type: 'Integer',
      units: 's',
    });
    expect(reg.getResource(1, 8)).toMatchObject({ name: 'Registration Update Trigger', operations: 'E' });
    expect(reg.getResource(0, 0)).toMatchObject({
      name: 'LWM2M Server URI',
      operations: 'none',
      type: 'String',
    });
    expect(isReadable(reg.getResource(0, 5)!)).toBe(false);
  });

  it('IPSO Temperature (3303) and Light Control (3311)', () => {
    expect(reg.getResource(3303, 5700)).toMatchObject({
      name: 'Sensor Value',
      type: 'Float',
      mandatory: true,
    });
    expect(reg.getResource(3311, 5850)).toMatchObject({ name: 'On/Off', type: 'Boolean', operations: 'RW' });
    expect(reg.getResource(21, 0)).toMatchObject({ name: 'OSCORE Master Secret', type: 'Opaque' });
  });

  it('every built-in definition is valid and has unique resource ids', () => {
    for (const o of BUILTIN_OBJECTS) {
      const ids = o.resources.map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const r of o.resources) if (r.operations === 'E') expect(r.type).toBe('none');
    }
  });
});

describe('ObjectRegistry', () => {
  it('adds user definitions, refuses duplicates unless replacing', () => {
    const r = new ObjectRegistry(BUILTIN_OBJECTS);
    const mine = {
      id: 33000,
      name: 'Mine',
      version: '1.0',
      lwm2mVersion: '1.1',
      multiple: true,
      mandatory: false,
      resources: [],
    };
    r.add(mine);
    expect(r.getObject(33000)).toBe(mine);
    expect(() => r.add(mine)).toThrow(ObjectRegistryError);
    r.add({ ...mine, version: '1.1' }, true);
    expect(r.getObject(33000)!.version).toBe('1.1');
    expect(r.getResource(33000, 0)).toBeUndefined();
    expect(r.getObject(99999)).toBeUndefined();
  });

  it('rejects invalid ids and duplicate resource ids', () => {
    const r = new ObjectRegistry();
    const base = { name: 'x', version: '1.0', lwm2mVersion: '1.0', multiple: false, mandatory: false };
    expect(() => r.add({ ...base, id: 65535, resources: [] })).toThrow(ObjectRegistryError);
    const res = {
      id: 1,
      name: 'a',
      operations: 'R' as const,
      multiple: false,
      mandatory: false,
      type: 'String' as const,
    };
    expect(() => r.add({ ...base, id: 1, resources: [res, res] })).toThrow(ObjectRegistryError);
  });
});

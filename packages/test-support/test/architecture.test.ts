/**
 * The dependency rules of docs/ARCHITECTURE.md ("Dependency rules"), as stated in .dependency-cruiser.mjs:
 * no cycles, packages import only the packages below them, folder rules inside coap-core and lwm2m; and no
 * file points to design notes outside the repository.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type DependencyViolation,
  filesMentioning,
  findDependencyViolations,
  formatViolation,
} from '../src/architecture.js';

/**
 * Known violations, one by one with the reason, while a change that removes them is under way. Empty: the
 * rules hold without exception. An entry that no longer occurs fails the test, so the list only shrinks.
 */
const KNOWN_VIOLATIONS: readonly string[] = [];

/** Files that may still mention DESIGN.md while they are being changed (empty: none may). */
const KNOWN_DESIGN_MENTIONS: readonly string[] = [];

/** A violation the way the allow-list spells it. */
function line(v: DependencyViolation): string {
  return formatViolation(v);
}

describe('dependency rules (docs/ARCHITECTURE.md, "Dependency rules")', { timeout: 120_000 }, () => {
  it('packages/*/src break no rule beyond the known, listed violations', async () => {
    const found = (await findDependencyViolations()).map(line);
    const unexpected = found.filter((v) => !KNOWN_VIOLATIONS.includes(v));
    const gone = KNOWN_VIOLATIONS.filter((v) => !found.includes(v));
    expect(unexpected, 'new violations of .dependency-cruiser.mjs').toEqual([]);
    expect(gone, 'fixed: remove these from KNOWN_VIOLATIONS').toEqual([]);
  });

  it('the checker reports a cycle, an upward package import and folder-rule breaks (fixture)', async () => {
    const baseDir = fileURLToPath(new URL('./fixtures/architecture/', import.meta.url));
    const found = (await findDependencyViolations({ baseDir })).map(line);
    expect(found).toEqual([
      'coap-core-message-is-a-base: packages/coap-core/src/message/decode.ts → packages/coap-core/src/endpoint/endpoint.ts',
      'lwm2m-client-not-server: packages/lwm2m/src/client/client.ts → packages/lwm2m/src/server/server.ts',
      'no-circular: packages/coap-core/src/util/a.ts → packages/coap-core/src/util/b.ts → packages/coap-core/src/util/a.ts',
      'package-coap-core: packages/coap-core/src/message/decode.ts → packages/oscore/src/index.ts',
    ]);
  });
});

describe('design notes live in the repository (docs/ARCHITECTURE.md)', () => {
  it('no file under packages/, examples/, bench/ mentions DESIGN.md beyond the known, listed ones', () => {
    // 'DESIGN:' too: test titles cited the outside notes by that short form
    const mentions = [
      ...filesMentioning('DESIGN.md', ['packages', 'examples', 'bench']),
      ...filesMentioning('DESIGN:', ['packages', 'examples', 'bench']),
    ];
    const found = [...new Set(mentions)].filter(
      // this file names it, to test the check
      (f) => f !== 'packages/test-support/test/architecture.test.ts',
    );
    expect(
      found.filter((f) => !KNOWN_DESIGN_MENTIONS.includes(f)),
      'point to docs/ARCHITECTURE.md instead',
    ).toEqual([]);
    expect(
      KNOWN_DESIGN_MENTIONS.filter((f) => !found.includes(f)),
      'fixed: remove these from KNOWN_DESIGN_MENTIONS',
    ).toEqual([]);
  });

  it('the scan finds a mention (this file names it)', () => {
    expect(filesMentioning('DESIGN.md', ['packages/test-support/test'])).toContain(
      'packages/test-support/test/architecture.test.ts',
    );
  });
});

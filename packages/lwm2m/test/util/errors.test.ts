import {
  BootstrapConfigError,
  FetchError,
  FirmwareError,
  Lwm2mClientError,
  Lwm2mContentError,
  Lwm2mError,
  Lwm2mPathError,
  Lwm2mServerError,
  parseLwm2mPath,
  RegistrationError,
} from '@thimble/lwm2m';
import { describe, expect, it } from 'vitest';

describe('Lwm2mError: one base for the package errors', () => {
  it('each error family is an Lwm2mError and keeps its own class, name and reason', () => {
    const errors: [Lwm2mError, new (...args: never[]) => Error, string, string][] = [
      [new Lwm2mServerError('timeout', 'no answer'), Lwm2mServerError, 'Lwm2mServerError', 'timeout'],
      [new Lwm2mClientError('not-found', '4.04', 'gone'), Lwm2mClientError, 'Lwm2mClientError', 'not-found'],
      [new Lwm2mContentError('truncated', 'short'), Lwm2mContentError, 'Lwm2mContentError', 'truncated'],
      [new RegistrationError('bad ep'), RegistrationError, 'RegistrationError', 'invalid-registration'],
      [new BootstrapConfigError(['x']), BootstrapConfigError, 'BootstrapConfigError', 'inconsistent-config'],
      [new FetchError('connection', 'down'), FetchError, 'FetchError', 'connection'],
      [new FirmwareError(6, 'bad package'), FirmwareError, 'FirmwareError', 'update-failed'],
    ];
    for (const [e, cls, name, reason] of errors) {
      expect(e).toBeInstanceOf(Lwm2mError);
      expect(e).toBeInstanceOf(cls);
      expect(e.name).toBe(name);
      expect(e.reason).toBe(reason);
    }
  });

  it('a parser error thrown by the package is caught as an Lwm2mError', () => {
    let caught: unknown;
    try {
      parseLwm2mPath('/3/x');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(Lwm2mPathError);
    expect(caught).toBeInstanceOf(Lwm2mError);
    expect((caught as Lwm2mPathError).reason).toBeTypeOf('string');
  });

  it('the cause of a server error is kept', () => {
    const cause = new Error('socket closed');
    expect(new Lwm2mServerError('request-failed', 'x', { cause }).cause).toBe(cause);
  });
});

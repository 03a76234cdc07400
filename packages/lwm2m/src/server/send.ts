/**
 * Send (`/dp`, LwM2M TS Core 1.1 §6.4.6, Transport §6.4.6): values a registered device reports on its own
 * initiative, decoded and handed to the `SendListener`.
 */
import { type CoapRequest, Code, type ResponseInit } from '@thimble/coap-core';
import { decodeComposite } from '../content/codecs.js';
import { Lwm2mContentError } from '../content/errors.js';
import type { Lwm2mCompositeEntry } from '../content/senml.js';
import type { Lwm2mModel } from '../model/registry.js';
import { LWM2M_CBOR, SENML_CBOR, SENML_JSON } from './formats.js';
import type { RegistrationAuthorizer } from './registration/authorizer.js';
import type { RegistrationHandler } from './registration/handler.js';
import type { Registration } from './registration/store.js';
import type { ServerLimits } from './types.js';

export interface SendListener {
  sent(registration: Registration, entries: Lwm2mCompositeEntry[]): void;
}

export class SendHandler {
  constructor(
    private readonly registrations: Pick<RegistrationHandler, 'registrationAt'>,
    private readonly authorizer: RegistrationAuthorizer,
    private readonly listener: SendListener,
    private readonly model: Lwm2mModel,
    private readonly limits: ServerLimits,
  ) {}

  /** 2.04 Changed; 4.04 from a peer that is not registered, 4.13 / 4.15 / 4.00 for a payload refused. */
  send(req: CoapRequest): ResponseInit {
    const registration = this.registrations.registrationAt(req.peer);
    if (registration === undefined) return { code: Code.NotFound, payload: 'not registered' };
    const auth = this.authorizer.authorize(req, registration.endpoint);
    if (auth.refused !== undefined) return auth.refused;
    if (req.payload.length > this.limits.maxSendSize)
      return { code: Code.RequestEntityTooLarge, payload: 'Send payload too large' };
    const format = req.contentFormat;
    if (format !== SENML_CBOR && format !== SENML_JSON && format !== LWM2M_CBOR)
      return { code: Code.UnsupportedContentFormat, payload: 'Send takes SenML CBOR / JSON or LwM2M CBOR' };
    let entries: Lwm2mCompositeEntry[];
    try {
      entries = decodeComposite(format, req.payload, this.model);
    } catch (e) {
      if (e instanceof Lwm2mContentError) return { code: Code.BadRequest, payload: e.message };
      throw e;
    }
    this.listener.sent(registration, entries);
    return { code: Code.Changed };
  }
}

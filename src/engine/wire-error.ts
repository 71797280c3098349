import { TidewayError } from '../api/errors.js';
import type { WireError } from './messages.js';

/** Errors cross threads as plain data and come back as TidewayErrors with the same code and context. */
export function toWireError(error: unknown): WireError {
  if (error instanceof TidewayError) {
    const wire: WireError = { code: error.code, message: messageWithCauses(error), context: error.context, retryable: error.retryable };
    if (error.stack) wire.stack = error.stack;
    return wire;
  }
  if (error instanceof Error) {
    const wire: WireError = { code: 'INTERNAL', message: messageWithCauses(error), context: {}, retryable: false };
    if (error.stack) wire.stack = error.stack;
    return wire;
  }
  return { code: 'INTERNAL', message: String(error), context: {}, retryable: false };
}

export function fromWireError(wire: WireError): TidewayError {
  const error = new TidewayError(wire.code, wire.message, { context: wire.context, retryable: wire.retryable });
  if (wire.stack) error.stack = wire.stack;
  return error;
}

function messageWithCauses(error: Error): string {
  const parts = [error.message];
  let cause = error.cause;
  for (let i = 0; cause instanceof Error && i < 4; i++) {
    if (!parts.includes(cause.message)) parts.push(cause.message);
    cause = cause.cause;
  }
  return parts.join(': ');
}

import { renderXml, type XmlElement } from './xml.js';

/**
 * The OSS error codes the emulator answers with, and the HTTP status real OSS pairs with each. The
 * codes are OSS's own so that clients build the same `err.name` (`<Code>Error`) as against the service.
 */
export const OSS_ERROR_STATUS = {
  AccessDenied: 403,
  BucketAlreadyExists: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  FileAlreadyExists: 409,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidObjectName: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingArgument: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
} as const;

export type OssErrorCode = keyof typeof OSS_ERROR_STATUS;

/**
 * A protocol-level failure of one request. It never escapes the emulator: the request pipeline turns
 * it into OSS error XML (or, for HEAD, an empty body plus the base64 `x-oss-err` header).
 */
export class OssError extends Error {
  override readonly name = 'OssError';
  readonly status: number;

  /**
   * @param code OSS error code, e.g. `NoSuchKey`.
   * @param message the `<Message>` text.
   * @param extra further elements OSS adds for this error (`Key`, `BucketName`, `StringToSign`, `Condition`...).
   * @param status overrides the code's usual status; fault rules use it to send e.g. a 403 `InternalError`.
   */
  constructor(
    readonly code: string,
    message: string,
    readonly extra: Readonly<Record<string, string>> = {},
    status?: number,
  ) {
    super(message);
    this.status = status ?? (OSS_ERROR_STATUS as Record<string, number>)[code] ?? 400;
  }
}

/** Renders the `<Error>` document. `hostId` is the Host the client addressed, as OSS reports it. */
export function renderErrorXml(error: OssError, requestId: string, hostId: string): string {
  const children: XmlElement[] = [
    ['Code', error.code],
    ['Message', error.message],
    ['RequestId', requestId],
    ['HostId', hostId],
    ...Object.entries(error.extra).map(([name, value]): XmlElement => [name, value]),
  ];
  return renderXml(['Error', children]);
}

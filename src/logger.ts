import { pino, type DestinationStream, type Logger } from 'pino'

/**
 * The service's structured JSON logger. Secrets are censored wherever they appear in a logged
 * object: the Authorization header and every provider credential field.
 */
export function createLogger (level: string, destination?: DestinationStream): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'req.headers.authorization', 'headers.authorization',
        '*.auth_token', '*.sip_password', '*.secret', '*.credentials', '*.password', '*.api_key', '*.account_sid',
        '*.*.auth_token', '*.*.sip_password', '*.*.secret', '*.*.credentials', '*.*.password'
      ],
      censor: '[redacted]'
    }
  }, destination)
}

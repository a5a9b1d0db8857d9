import { z } from 'zod';

/** The envelope of every MLflow webhook delivery (entity and action are lower-case in deliveries). */
export const WebhookEnvelopeSchema = z.object({
  entity: z.string().min(1).max(100),
  action: z.string().min(1).max(100),
  timestamp: z.string().max(100).optional(),
  data: z.record(z.string(), z.unknown()),
});

/** `data` of `model_version_alias.created`: the alias now points at this version. */
export const AliasCreatedDataSchema = z.object({
  name: z.string().min(1).max(256),
  alias: z.string().min(1).max(256),
  version: z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be a model version as a string of digits, e.g. "3"'),
});

/** `data` of `model_version_alias.deleted` (no version: the alias is gone). */
export const AliasDeletedDataSchema = z.object({
  name: z.string().min(1).max(256),
  alias: z.string().min(1).max(256),
});

import { z } from 'zod';

/** An MLflow error body: `{"error_code": "...", "message": "..."}`. */
export const ErrorBodySchema = z.object({ error_code: z.string(), message: z.string().default('') });

/** A registered model version. MLflow sends `version` as a JSON string. */
export const ModelVersionSchema = z.object({
  name: z.string(),
  version: z.string().regex(/^[0-9]+$/),
  current_stage: z.string().optional(),
  source: z.string(),
  run_id: z.string().optional(),
  status: z.string().optional(),
  description: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  creation_timestamp: z.number().optional(),
});
export type ModelVersion = z.infer<typeof ModelVersionSchema>;

export const ModelVersionResponseSchema = z.object({ model_version: ModelVersionSchema });

/** `get-latest-versions` answers `{}` (no `model_versions` key) when nothing matches. */
export const LatestVersionsResponseSchema = z.object({
  model_versions: z.array(ModelVersionSchema).default([]),
});

export const DownloadUriResponseSchema = z.object({ artifact_uri: z.string() });

export const RunInfoSchema = z.object({
  run_id: z.string(),
  experiment_id: z.string(),
  artifact_uri: z.string(),
  status: z.string().optional(),
});
export const RunResponseSchema = z.object({ run: z.object({ info: RunInfoSchema }) });
export type RunInfo = z.infer<typeof RunInfoSchema>;

export const ExperimentResponseSchema = z.object({
  experiment: z.object({ experiment_id: z.string(), name: z.string() }),
});
export const CreateExperimentResponseSchema = z.object({ experiment_id: z.string() });

/** Artifact proxy listing; a missing directory answers `{}`. */
export const ArtifactListSchema = z.object({
  files: z
    .array(
      z.object({
        path: z.string(),
        is_dir: z.boolean().default(false),
        file_size: z.coerce.number().optional(),
      }),
    )
    .default([]),
});
export type ArtifactEntry = z.infer<typeof ArtifactListSchema>['files'][number];

export const EmptySchema = z.object({});

import { z } from 'zod';

/**
 * The name of what this kit deploys: the default registered model the environments serve and relay, and
 * the default name of its namespace, Deployment, Service, Prometheus job, Grafana folder and Argo CD
 * project. The service names itself the same in its logs (`SERVICE_NAME` in service/src/config.ts: the
 * service imports nothing from charts/, and charts/ synthesizes without service/; a test keeps the two equal).
 */
export const APP_NAME = 'cats-dogs-classifier';

/** A GitHub repository as `owner/name`, as the relay dispatches to it (neither part `.` or `..`). */
export const GitHubRepositorySchema = z
  .string()
  .regex(
    /^(?!\.\.?\/)[A-Za-z0-9_.-]+\/(?!\.\.?$)[A-Za-z0-9_.-]+$/,
    "must look like owner/name, e.g. acme/cats-dogs (neither part '.' or '..')",
  );

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

/** One DNS-1123 label (at most 63 characters): a namespace, a Service or a Secret name. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** One label inside the names below (their overall length is checked where it matters). */
const NAME_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
/** A DNS-1123 subdomain, as Kubernetes requires of e.g. an IngressClass name or an annotation prefix. */
export const DNS_SUBDOMAIN = new RegExp(`^${NAME_LABEL}(\\.${NAME_LABEL})*$`);
/** A fully qualified host name, at least two labels: an Ingress host. */
export const DNS_HOST_NAME = new RegExp(`^${NAME_LABEL}(\\.${NAME_LABEL})+$`);

import * as kplus from 'cdk8s-plus-28';

/** The uid and gid every container runs as (above 10000, as kube-score asks). */
export const DEFAULT_RUN_AS_USER = 10001;

/** Container security context of the Pod Security Standard "restricted" profile. */
export function restrictedContainerSecurityContext(user: number): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user,
    group: user,
    privileged: false,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: [kplus.Capability.ALL] },
    seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
  };
}

/** Pod security context matching {@link restrictedContainerSecurityContext}. */
export function restrictedPodSecurityContext(user: number): kplus.PodSecurityContextProps {
  return { ensureNonRoot: true, user, group: user, fsGroup: user };
}

/** Labels that make the API server enforce the "restricted" profile for a namespace. */
export const RESTRICTED_NAMESPACE_LABELS: Readonly<Record<string, string>> = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
};

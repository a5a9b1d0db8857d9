import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

/** Where an {@link ExternalSecret} reads its values (External Secrets Operator). */
export interface ExternalSecretProps {
  /** Name of the Secret the operator creates (and of the ExternalSecret). */
  readonly secretName: string;
  /** Namespace of both. */
  readonly namespace: string;
  /** Name of the (Cluster)SecretStore to read from. */
  readonly secretStoreName: string;
  /**
   * Kind of the store.
   * @default 'ClusterSecretStore'
   */
  readonly secretStoreKind?: 'ClusterSecretStore' | 'SecretStore';
  /** Key in the external store whose properties become the Secret's keys (`dataFrom.extract`). */
  readonly remoteKey: string;
  /**
   * How often the operator re-reads the store.
   * @default '1h'
   */
  readonly refreshInterval?: string;
  /**
   * API version of the ExternalSecret kind served by the installed operator.
   * @default 'external-secrets.io/v1'
   */
  readonly apiVersion?: string;
  /**
   * Labels of the ExternalSecret.
   * @default - none
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * An External Secrets Operator `ExternalSecret` that materialises a Secret from an external store, so credentials
 * stay out of git: only the store's name and the remote key are synthesized.
 */
export class ExternalSecret extends Construct {
  /** The ExternalSecret object. */
  public readonly resource: ApiObject;
  /** Name of the Secret it creates. */
  public readonly secretName: string;

  constructor(scope: Construct, id: string, props: ExternalSecretProps) {
    super(scope, id);
    this.secretName = props.secretName;
    if (!/^[0-9]+(s|m|h)$/.test(props.refreshInterval ?? '1h')) {
      throw new Error(`'refreshInterval' '${props.refreshInterval}' must be a duration such as 30m or 1h.`);
    }
    this.resource = new ApiObject(this, 'Resource', {
      apiVersion: props.apiVersion ?? 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: props.secretName, namespace: props.namespace, labels: { ...props.labels } },
      spec: {
        refreshInterval: props.refreshInterval ?? '1h',
        secretStoreRef: { name: props.secretStoreName, kind: props.secretStoreKind ?? 'ClusterSecretStore' },
        target: { name: props.secretName, creationPolicy: 'Owner' },
        dataFrom: [{ extract: { key: props.remoteKey } }],
      },
    });
  }
}

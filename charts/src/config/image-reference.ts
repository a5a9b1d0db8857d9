/**
 * The container image rule the constructs (`InferenceService`, `WebhookRelay`) and the environment config schema
 * share. No cdk8s here, so the config schema loads without the constructs.
 */

/** Image reference: must carry a tag other than `latest`, a sha256 digest, or both. */
export function validateImage(image: string): void {
  const m =
    /^([a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(
      image,
    );
  if (!m) {
    throw new Error(
      `image '${image}' is not an image reference: write repository:tag or repository@sha256:<64 hex>.`,
    );
  }
  const [, , tag, digest] = m;
  if (!tag && !digest) {
    throw new Error(
      `image '${image}' has neither a tag nor a digest: append :<tag> or @sha256:<digest> so the deployment is reproducible.`,
    );
  }
  if (tag === 'latest' && !digest) {
    throw new Error(`image '${image}' uses the 'latest' tag: pin a version tag or a sha256 digest.`);
  }
}

import { validateImage } from '../../src/config/image-reference';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('validateImage', () => {
  it.each([
    'model:1.0',
    'ghcr.io/example/model-gitops:0.1.0',
    'localhost:5000/model-gitops:1.0',
    'registry.example.co.uk/team/cats-dogs_classifier:v1.2.3-rc.1',
    `ghcr.io/example/model-gitops@${DIGEST}`,
    `ghcr.io/example/model-gitops:latest@${DIGEST}`,
  ])('accepts %s', (image) => {
    expect(() => validateImage(image)).not.toThrow();
  });

  it.each([
    'Ghcr.io/example/model-gitops:1.0',
    'ghcr.io/example/model-gitops:1.0 ',
    'ghcr.io/example/model-gitops:1.0@sha256:abc',
    'ghcr.io/example/model-gitops:-1',
    'localhost:port/model-gitops:1.0',
  ])('fails when %j is not an image reference', (image) => {
    expect(() => validateImage(image)).toThrow(
      new Error(
        `image '${image}' is not an image reference: write repository:tag or repository@sha256:<64 hex>.`,
      ),
    );
  });

  it('fails when the image has neither a tag nor a digest', () => {
    expect(() => validateImage('ghcr.io/example/model-gitops')).toThrow(
      new Error(
        "image 'ghcr.io/example/model-gitops' has neither a tag nor a digest: append :<tag> or @sha256:<digest> so the deployment is reproducible.",
      ),
    );
  });

  it("fails on the 'latest' tag without a digest", () => {
    expect(() => validateImage('ghcr.io/example/model-gitops:latest')).toThrow(
      new Error(
        "image 'ghcr.io/example/model-gitops:latest' uses the 'latest' tag: pin a version tag or a sha256 digest.",
      ),
    );
  });
});

import { existsSync } from 'node:fs';
import { ENVIRONMENTS, modelPinPath, readModelPin } from '../../charts/src/config';
import { evidencePath, readEvidence } from '../src/evaluation/evidence';
import { REPO_ROOT } from './support/repo';

/**
 * The repository's own pins. `promote` writes a pin and the evidence of the gate that judged it in one commit,
 * and `rollback` restores both, so each pin names the version its evidence judged. A pin edited by hand, or
 * merged without its evidence, fails here, in CI, before Argo CD deploys a model no gate has seen: after the
 * rollout `smoke --evidence` would find it too, but with no promotion to roll back.
 */
describe('the committed pins', () => {
  const pinned = ENVIRONMENTS.filter((env) => existsSync(modelPinPath(REPO_ROOT, env)));

  it('exist for the registry environments', () => {
    expect(pinned).toEqual(['local', 'staging', 'production']);
  });

  it.each(pinned)('%s: the pin names the model version, and its sha256, that its evidence judged', (env) => {
    const pin = readModelPin(modelPinPath(REPO_ROOT, env));
    const evidence = readEvidence(evidencePath(REPO_ROOT, env));
    expect({ name: evidence.name, version: evidence.version, sha256: evidence.sha256 }).toEqual({
      name: pin.name,
      version: pin.version,
      sha256: pin.sha256,
    });
  });
});

/**
 * Keeps a test file's AWS SDK clients away from this machine's AWS settings: shared config files point
 * nowhere and profile and endpoint variables are unset for the file's tests, then restored. Each client
 * the tests make still gets fake credentials, a region and a loopback endpoint of its own.
 */
export function isolateFromAwsEnvironment(serviceEndpointVariable: string): void {
  const savedEnv = { ...process.env };
  beforeAll(() => {
    process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_ENDPOINT_URL;
    delete process.env[serviceEndpointVariable];
  });
  afterAll(() => {
    process.env = savedEnv;
  });
}

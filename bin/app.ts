#!/usr/bin/env node
// The example app `npx cdk synth` runs. Until the construct lands it synthesizes an empty stack.
import { App, Stack } from 'aws-cdk-lib';

const app = new App();
new Stack(app, 'CniMetricsHelperExample');
app.synth();

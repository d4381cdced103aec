// The second peer: one repayment-url call through the npm `wechatpay-axios-plugin`
// (node), against the same server and profile. Run by benchmarks/run.py, which
// installs the plugin into benchmarks/.node (never into the project).
//
//   node peer_node.js BASE_URL MCHID SERIAL PRIVATE_KEY.pem PUBLIC_KEY_ID PUBLIC_KEY.pem
'use strict';
const { readFileSync } = require('fs');
const { Wechatpay } = require('wechatpay-axios-plugin');

const [baseURL, mchid, serial, privateKeyPath, publicKeyId, publicKeyPath] = process.argv.slice(2);
const wxpay = new Wechatpay({
  baseURL,
  mchid,
  serial,
  privateKey: readFileSync(privateKeyPath),
  certs: { [publicKeyId]: readFileSync(publicKeyPath) },
});

wxpay.v3.offlineface['repayment-url']
  .post({ out_user_id: 'demo', organization_id: 'demo-org' })
  .then(({ status, data }) => {
    if (status !== 200 || !data.repayment_url) throw new Error(`peer call failed: ${status}`);
    process.stdout.write(`${JSON.stringify(data)}\n`);
  })
  .catch((error) => {
    process.stderr.write(`peer call failed: ${error.message}\n`);
    process.exit(1);
  });

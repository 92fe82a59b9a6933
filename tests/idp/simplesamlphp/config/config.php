<?php
// SimpleSAMLphp (Debian's package) as the tests' SAML identity provider. Everything that
// varies (port, folders, the service provider) comes from the JSON file that
// tests/idp/simplesamlphp.py writes and names in SSP_TEST_CONFIG.
$test = json_decode(file_get_contents(getenv('SSP_TEST_CONFIG')), true);
$config = [
    'baseurlpath' => $test['base_url'] . '/simplesaml/',
    'certdir' => $test['folder'] . '/',
    'loggingdir' => $test['folder'] . '/',
    'datadir' => $test['folder'] . '/',
    'tempdir' => $test['folder'] . '/tmp',
    'metadatadir' => __DIR__ . '/../metadata/',
    'technicalcontact_name' => 'Tests',
    'technicalcontact_email' => 'tests@example.com',
    'secretsalt' => $test['secret'],
    'auth.adminpassword' => $test['secret'],
    'admin.protectindexpage' => true,
    'admin.protectmetadata' => false,
    'timezone' => 'UTC',
    'logging.level' => SimpleSAML\Logger::INFO,
    'logging.handler' => 'errorlog',
    'enable.saml20-idp' => true,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => true],
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'store.type' => 'phpsession',
    'language.default' => 'en',
    'theme.use' => 'default',
    'trusted.url.domains' => [],
];

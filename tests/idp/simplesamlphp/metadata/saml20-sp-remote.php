<?php
// The site under test, as tests/idp/simplesamlphp.py describes it (read at each request,
// so a test can shorten the assertions' lifetime).
$test = json_decode(file_get_contents(getenv('SSP_TEST_CONFIG')), true);
foreach ($test['service_providers'] as $sp) {
    $metadata[$sp['entity_id']] = [
        'AssertionConsumerService' => $sp['acs_url'],
        'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    ];
    if (!empty($sp['lifetime'])) {
        $metadata[$sp['entity_id']]['assertion.lifetime'] = $sp['lifetime'];
    }
}

<?php
// The test users, read at every sign-in from users.json ({"login": {"attr": ["value"]}}),
// so a test changes someone's groups or department between two sign-ins. The password
// of each is their login.
$test = json_decode(file_get_contents(getenv('SSP_TEST_CONFIG')), true);
$users = json_decode(file_get_contents($test['users_file']), true);
$source = ['exampleauth:UserPass'];
foreach ($users as $login => $attributes) {
    $source[$login . ':' . $login] = array_merge(['uid' => [$login]], $attributes);
}
$config = [
    'admin' => ['core:AdminPassword'],
    'test-users' => $source,
];

<?php
$metadata['__DYNAMIC:1__'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'test-users',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    'authproc' => [
        // The persistent NameID is the login: a stable subject, as a directory's object id.
        10 => ['class' => 'saml:AttributeNameID', 'attribute' => 'uid',
               'Format' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'],
    ],
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
];

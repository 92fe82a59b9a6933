"""The schemas /scim/v2/Schemas publishes: RFC 7643's User (with the enterprise
extension's `department`) and Group, cut down to the attributes the Academy keeps.
A directory may send more (title, phone numbers, addresses...); they are accepted and
not kept, so they are not advertised either."""

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _attr(name, description, *, type_="string", multi=False, required=False, mutability="readWrite",
          uniqueness="none", case_exact=False, sub=None, returned="default", **extra):
    attr = {"name": name, "type": type_, "multiValued": multi, "description": description, "required": required,
            "caseExact": case_exact, "mutability": mutability, "returned": returned, "uniqueness": uniqueness, **extra}
    if sub is not None:
        attr["subAttributes"] = sub
    return attr


def _schema(uri, name, description, attributes):
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": uri, "name": name,
            "description": description, "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": f"/scim/v2/Schemas/{uri}"}}


_REF = _attr("$ref", "The URI of the resource.", type_="reference", mutability="immutable",
             referenceTypes=["User", "Group"])

SCHEMAS = [
    _schema(USER, "User", "A person who learns here.", [
        _attr("userName", "The person's username here; what they are known by.", required=True,
              uniqueness="server"),
        _attr("name", "The person's name.", type_="complex", sub=[
            _attr("formatted", "The full name, as it is shown."),
        ]),
        _attr("displayName", "The full name, as it is shown (the same as name.formatted)."),
        _attr("emails", "The person's work email; the Academy keeps one.", type_="complex", multi=True, sub=[
            _attr("value", "The email address."),
            _attr("type", "Always work.", canonicalValues=["work"]),
        ]),
        _attr("active", "false deactivates the person (sessions, sockets, generations and fine-tunes end).",
              type_="boolean"),
        _attr("groups", "The groups the person is in: their team's, and the manager group.", type_="complex",
              multi=True, mutability="readOnly", sub=[
                  _attr("value", "The group's id.", mutability="readOnly"),
                  {**_REF, "mutability": "readOnly", "referenceTypes": ["Group"]},
                  _attr("display", "The group's name.", mutability="readOnly"),
              ]),
    ]),
    _schema(ENTERPRISE, "EnterpriseUser", "The enterprise extension; its department is the person's team.", [
        _attr("department", "The person's team (created if it does not exist)."),
    ]),
    _schema(GROUP, "Group", "A team, or the manager group (SCIM_MANAGER_GROUP).", [
        _attr("displayName", "The team's name, or the manager group's.", required=True, uniqueness="server"),
        _attr("members", "The people in the team (or with the manager role).", type_="complex", multi=True, sub=[
            _attr("value", "The person's id.", mutability="immutable"),
            {**_REF, "referenceTypes": ["User"]},
        ]),
    ]),
]


def schemas_getter():
    return SCHEMAS

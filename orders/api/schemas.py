"""OpenAPI description of the TMF622 answers (documentation only: ``orders.integrations.tmf622`` writes them).

The schema is TMF622 v4 ``ProductOrder`` in outline: the attributes a client relies on are described, further
attributes are allowed (as in the TMF schema), and ``fields=`` may leave out all but ``id``, ``href`` and
``@type``.
"""
_REF = {"type": "object", "properties": {"id": {"type": "string"}, "href": {"type": "string"},
                                         "name": {"type": "string"}, "@referredType": {"type": "string"}}}
_DATE = {"type": "string", "format": "date-time"}

ORDER_STATES = ["acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed",
                "partial", "assessingCancellation", "pendingCancellation"]

PRODUCT_ORDER_ERROR_MESSAGE = {
    "type": "object",
    "description": "Why the order is held or rejected: the reason code and text an agent sees. TMF622 v5 "
                   "ProductOrderErrorMessage, written on the v4 ProductOrder as a TMF630 extension.",
    "required": ["code", "reason", "@type"],
    "properties": {
        "code": {"type": "string", "description": "Reason code, e.g. CREDIT_LIMIT, NOT_SERVICEABLE, FALLOUT, "
                                                  "REJECTED_BY_AGENT."},
        "reason": {"type": "string", "description": "The reason in words, as the agent sees it."},
        "message": {"type": "string", "description": "What happens next and what the channel can do."},
        "productOrderItem": {
            "type": "array",
            "description": "The order items the reason is about, when it is about some of them.",
            "items": {"type": "object", "properties": {
                "itemId": {"type": "string"}, "productOrderId": {"type": "string"},
                "productOrderHref": {"type": "string"}, "@referredType": {"type": "string"},
                "@type": {"type": "string"}}},
        },
        "@type": {"type": "string", "enum": ["ProductOrderErrorMessage"]},
    },
}

PRODUCT_ORDER = {
    "type": "object",
    "description": "TMF622 v4 ProductOrder.",
    "required": ["id", "href", "@type"],
    "properties": {
        "id": {"type": "string"},
        "href": {"type": "string"},
        "externalId": {"type": "string"},
        "state": {"type": "string", "enum": ORDER_STATES},
        "orderDate": _DATE,
        "priority": {"type": "string", "enum": ["0", "1", "2", "3", "4"]},
        "category": {"type": "string"},
        "description": {"type": "string"},
        "notificationContact": {"type": "string"},
        "requestedStartDate": _DATE,
        "requestedCompletionDate": _DATE,
        "expectedCompletionDate": _DATE,
        "completionDate": _DATE,
        "cancellationDate": _DATE,
        "cancellationReason": {"type": "string"},
        "channel": {"type": "array", "items": _REF},
        "relatedParty": {"type": "array", "items": _REF},
        "billingAccount": _REF,
        "note": {"type": "array", "items": {"type": "object", "properties": {"text": {"type": "string"}}}},
        "productOrderItem": {"type": "array", "items": {"type": "object"}},
        "orderTotalPrice": {"type": "array", "items": {"type": "object"}},
        "productOrderErrorMessage": {
            "type": "array",
            "description": "Present while the order is held or rejected: why (see ProductOrderErrorMessage).",
            "items": PRODUCT_ORDER_ERROR_MESSAGE,
        },
        "@type": {"type": "string"},
        "@baseType": {"type": "string"},
    },
}
PRODUCT_ORDER_LIST = {"type": "array", "items": PRODUCT_ORDER}

HUB = {"type": "object", "required": ["id", "callback"],
       "properties": {"id": {"type": "string"}, "callback": {"type": "string"}, "query": {"type": "string"}}}

# --- an order's versions (a TMF630 extension of TMF622: productOrder/{id}/version) ------------------------
PRODUCT_ORDER_VERSION = {
    "type": "object",
    "description": "One version of a product order, as its history recorded it. Versions are those the history "
                   "holds: the numbers can jump.",
    "required": ["id", "href", "version", "versionDate", "state", "changedBy", "event", "@type"],
    "properties": {
        "id": {"type": "string", "description": "The version number, as a string."},
        "href": {"type": "string", "description": "The order as it was at this version."},
        "version": {"type": "integer", "description": "The order version; GET productOrder/{id} sends the current "
                                                      "one as its ETag W/\"<version>\"."},
        "versionDate": {**_DATE, "description": "When the version was recorded."},
        "state": {"type": "string", "enum": ORDER_STATES, "description": "The order state at this version."},
        "changedBy": {"type": "string", "description": "channel:NAME, or (to staff) user:NAME and som:NAME; to a "
                                                       "channel a person is 'agent', anything else 'system'."},
        "changeReason": {"type": "string", "description": "Why the order was recorded at this version."},
        "event": {
            "type": "array",
            "description": "The business events recorded at this version (to a channel: those it is told of).",
            "items": {"type": "object", "required": ["eventType", "eventDate"], "properties": {
                "eventType": {"type": "string"}, "message": {"type": "string"}, "eventDate": _DATE,
                "actor": {"type": "string"}, "productOrderItemId": {"type": "string"}}},
        },
        "@type": {"type": "string", "enum": ["ProductOrderVersion"]},
    },
}
PRODUCT_ORDER_VERSION_LIST = {"type": "array", "items": PRODUCT_ORDER_VERSION}
_ANY_JSON = {"description": "Any JSON value; null where the attribute was absent."}
PRODUCT_ORDER_VERSION_DIFF = {
    "type": "object",
    "description": "What differs between two versions of a product order, computed on their TMF622 "
                   "representations.",
    "required": ["productOrder", "fromVersion", "toVersion", "change", "@type"],
    "properties": {
        "productOrder": _REF,
        "fromVersion": {"type": "integer"},
        "toVersion": {"type": "integer"},
        "fromVersionDate": _DATE,
        "toVersionDate": _DATE,
        "change": {
            "type": "array",
            "description": "One entry per attribute that differs; list entries are named by id "
                           "(productOrderItem[1].state), characteristics by name "
                           "(productOrderItem[1].product.productCharacteristic[downloadSpeed]), others by position.",
            "items": {"type": "object", "required": ["path", "before", "after"], "properties": {
                "path": {"type": "string"}, "before": _ANY_JSON, "after": _ANY_JSON}},
        },
        "@type": {"type": "string", "enum": ["ProductOrderVersionDiff"]},
    },
}

TASK_STATES = ["acknowledged", "inProgress", "done", "terminatedWithError"]
MUTATION_DECISION = {
    "type": "object",
    "description": "What COM decided (a COM extension): apply, approval (a supervisor decides) or refuse, the policy "
                   "row that decided it and why, how far the services it touches have gone.",
    "properties": {"outcome": {"type": "string", "enum": ["apply", "approval", "refuse"]},
                   "policyRule": {"type": "string"}, "reason": {"type": "string"},
                   "approvalRequired": {"type": "boolean"}, "compensation": {"type": "boolean"},
                   "executionPoint": {"type": "string", "enum": ["none", "notStarted", "inFlight",
                                                                 "pastPointOfNoReturn", "completed"]},
                   "kind": {"type": "string"}, "decidedBy": {"type": "string"}, "comment": {"type": "string"},
                   "error": {"type": "string"}},
}
MUTATION_IMPACT = {
    "type": "object",
    "description": "The impact graph (a COM extension): the order items and service order items affected and what "
                   "happens to each (kept, cancelled in COM, cancelled at SOM, compensated), billing consequences.",
    "additionalProperties": True,
}
_TASK_PROPERTIES = {
    "id": {"type": "string"}, "href": {"type": "string"}, "state": {"type": "string", "enum": TASK_STATES},
    "productOrder": _REF, "creationDate": _DATE, "completionDate": _DATE, "reasonCode": {"type": "string"},
    "customerConsentRef": {"type": "string"},
    "productOrderItem": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
    "decision": MUTATION_DECISION, "impact": MUTATION_IMPACT, "@type": {"type": "string"},
}
CANCEL_PRODUCT_ORDER = {
    "type": "object", "description": "TMF622 v4 CancelProductOrder (plus the decision and impact extensions).",
    "required": ["id", "href", "@type"],
    "properties": {**_TASK_PROPERTIES, "cancellationReason": {"type": "string"},
                   "requestedCancellationDate": _DATE, "effectiveCancellationDate": _DATE},
}
CANCEL_PRODUCT_ORDER_LIST = {"type": "array", "items": CANCEL_PRODUCT_ORDER}
AMEND_PRODUCT_ORDER = {
    "type": "object", "description": "A change to an order in flight (correction, amendment, reschedule, "
                                     "supersession), in the shape of TMF622's task resources.",
    "required": ["id", "href", "@type"],
    "properties": {**_TASK_PROPERTIES, "kind": {"type": "string"}, "reason": {"type": "string"},
                   "replacementOrder": _REF},
}
AMEND_PRODUCT_ORDER_LIST = {"type": "array", "items": AMEND_PRODUCT_ORDER}
MUTATION_PREVIEW = {
    "type": "object", "description": "A dry run: what the request would do; nothing recorded.",
    "properties": {"dryRun": {"type": "boolean"}, "productOrder": _REF, "decision": MUTATION_DECISION,
                   "impact": MUTATION_IMPACT},
}

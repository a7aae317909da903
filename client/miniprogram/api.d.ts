/**
 * The HTTP API contract (docs/openapi.yaml) as TypeScript types, written by `npm run client:types`
 * (openapi-typescript). Do not edit: change the contract and run `npm run client:types` again.
 */

export interface paths {
    "/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness and MongoDB state; answers while MongoDB is down */
        get: operations["getHealth"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Log in with a wx.login code (code2Session); rate limited per client IP */
        post: operations["login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/user": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The logged-in user's profile */
        get: operations["getUser"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/unionid": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Store the unionId from legacy wx.getUserInfo open data */
        post: operations["bindUnionId"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/phone": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Bind the phone number from the getPhoneNumber button (code, or encryptedData and iv) */
        post: operations["bindPhone"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/security/text": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Check a text with WeChat's msg_sec_check 2.0; rate limited per user */
        post: operations["checkText"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/security/media": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Submit an image or audio URL to media_check_async 2.0; the verdict arrives by push */
        post: operations["submitMediaCheck"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/security/media/{traceId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A media check as its user sees it (NOT_FOUND for anyone else) */
        get: operations["getMediaCheck"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/message/check": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The mini-program console's URL check; replies echostr unchanged */
        get: operations["verifyMiniprogramPush"];
        put?: never;
        /**
         * A mini-program push (customer-service messages, events)
         * @description Recorded durably, then answered at once: `success`, or the transfer_customer_service answer
         *     (in the push's format, encrypted in safe mode) when a rule hands the message to human agents.
         *     A push that cannot be stored in time gets no answer at all (the connection is closed), so that
         *     WeChat retries it.
         */
        post: operations["receiveMiniprogramPush"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/oa/message": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The official account console's URL check; replies echostr unchanged */
        get: operations["verifyOfficialAccountPush"];
        put?: never;
        /**
         * The official account's push (subscribe / unsubscribe events)
         * @description Recorded durably, then answered `success`. A push that cannot be stored in time gets no answer, so that WeChat retries it.
         */
        post: operations["receiveOfficialAccountPush"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/reply-rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every stored auto-reply rule */
        get: operations["listReplyRules"];
        put?: never;
        /** Create an auto-reply rule (every worker uses it within 2 s) */
        post: operations["createReplyRule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/reply-rules/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["ObjectIdPath"];
            };
            cookie?: never;
        };
        /** One auto-reply rule */
        get: operations["getReplyRule"];
        /** Replace an auto-reply rule */
        put: operations["replaceReplyRule"];
        post?: never;
        /** Delete an auto-reply rule */
        delete: operations["deleteReplyRule"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/messages": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Recent pushed messages and their reply outcome (no other query parameters allowed) */
        get: operations["listInboxMessages"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/media": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every stored image */
        get: operations["listMedia"];
        put?: never;
        /** Store an image for reply rules (PNG, JPEG or GIF by content, at most 2 MB) */
        post: operations["uploadMedia"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/media/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["ObjectIdPath"];
            };
            cookie?: never;
        };
        /** One stored image (never its bytes nor the media_id) */
        get: operations["getMedia"];
        put?: never;
        post?: never;
        /** Delete a stored image; INVALID_PARAM while a rule uses it */
        delete: operations["deleteMedia"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/subscription": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Does the logged-in user follow the official account */
        get: operations["getSubscription"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/oa/followers/{unionId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Follow state of any unionId, for other services */
        get: operations["getFollower"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/oa/sync": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Progress of the latest follower sync */
        get: operations["getFollowerSync"];
        put?: never;
        /** Start a full follower sync in the background, or report the one in progress */
        post: operations["startFollowerSync"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/wxacode": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A mini-program code (getUnlimitedQRCode) as an image; one WeChat call per parameter set, ever
         * @description Session users may call it only with WXACODE_SESSION_ACCESS, and are rate limited per user. No other query parameters are allowed.
         */
        get: operations["getWxaCode"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/url-links": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A new URL Link (generateUrlLink); each call makes another */
        post: operations["createUrlLink"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/url-schemes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A new URL Scheme (generateScheme); each call makes another */
        post: operations["createUrlScheme"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/subscriptions/messages": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The logged-in user's subscribe-message grants, per template */
        get: operations["getSubscribeGrants"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/subscribe-messages": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send one subscribe message, deduplicated by its idempotencyKey
         * @description `code: 0` means nothing was stored (INVALID_PARAM, NOT_FOUND, NO_SUBSCRIPTION_GRANT: WeChat is not
         *     called). `code: 1` means the send exists; `data.status` says how far it got. A repeat of the same
         *     idempotencyKey returns the stored send, never a second message.
         */
        post: operations["sendSubscribeMessage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/subscribe-messages/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A send's status (the view POST returns) */
        get: operations["getSubscribeMessage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/subscribe-templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The account's subscribe-message templates and their fields (cached getTemplateList) */
        get: operations["listSubscribeTemplates"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * This contract as JSON (read from docs/openapi.yaml once at start-up)
         * @description NOT_FOUND unless config.backend.apiDocs.enabled (development and tests; production with API_DOCS=true)
         */
        get: operations["getContract"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/docs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A browsable reference of this contract (Swagger UI, served from node_modules, no CDN)
         * @description NOT_FOUND unless config.backend.apiDocs.enabled
         */
        get: operations["getReferencePage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/docs/{file}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The reference page's scripts and styles
         * @description NOT_FOUND unless config.backend.apiDocs.enabled, and for any other file
         */
        get: operations["getReferencePageAsset"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description A success: `data` is the operation's (each operation narrows it with allOf) */
        Success: {
            /** @constant */
            code: 1;
            data: unknown;
            message: string;
        };
        /** @description A failure, answered with HTTP 200 */
        Failure: {
            /** @constant */
            code: 0;
            data: components["schemas"]["FailureData"];
            /** @description for people; branch on data.error */
            message: string;
        };
        FailureData: {
            error: components["schemas"]["Reason"];
            /** @description INVALID_PARAM, the fields at fault */
            fields?: {
                field: string;
                message: string;
            }[];
            /** @description RATE_LIMITED */
            retryAfterSeconds?: number;
            /** @description WECHAT_*: WeChat's errcode */
            errcode?: number;
            /** @description INTERNAL_ERROR: the id logged with the stack */
            requestId?: string;
            /** @description NO_SUBSCRIPTION_GRANT: the template the user has no grant for */
            templateId?: string;
        } & (unknown & unknown);
        /**
         * @description Every failure reason (`data.error`); equal to ErrorReason in app/lib/errors.ts (a test checks)
         * @enum {string}
         */
        Reason: "INVALID_PARAM" | "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "PAYLOAD_TOO_LARGE" | "RATE_LIMITED" | "INTERNAL_ERROR" | "DATABASE_UNAVAILABLE" | "WECHAT_CODE_INVALID" | "WECHAT_RATE_LIMITED" | "WECHAT_USER_BLOCKED" | "WECHAT_USER_INACTIVE" | "WECHAT_CONFIG_ERROR" | "WECHAT_UNAVAILABLE" | "WECHAT_API_ERROR" | "WECHAT_PAGE_INVALID" | "WECHAT_INVALID_ARGS" | "DECRYPT_FAILED" | "WATERMARK_MISMATCH" | "OPENID_MISMATCH" | "NO_UNIONID" | "SIGNATURE_INVALID" | "STALE_REQUEST" | "ENCRYPTION_REQUIRED" | "REPLAYED_REQUEST" | "APPID_MISMATCH" | "OA_NOT_CONFIGURED" | "NO_SUBSCRIPTION_GRANT";
        /** Format: date-time */
        DateTime: string;
        NullableDateTime: string | null;
        ObjectId: string;
        /**
         * @default release
         * @enum {string}
         */
        EnvVersion: "release" | "trial" | "develop";
        /** @enum {string} */
        Scene: "profile" | "comment" | "forum" | "social_log";
        /** @enum {string} */
        Suggest: "pass" | "review" | "risky";
        TextCheckRequest: {
            /** @description at most 2500 characters (code points), not blank */
            content: string;
            scene: components["schemas"]["Scene"];
        };
        MediaCheckRequest: {
            /** @description an https URL without credentials */
            mediaUrl: string;
            /** @enum {string} */
            mediaType: "audio" | "image";
            /** @default comment */
            scene: components["schemas"]["Scene"];
        };
        CodeRequest: {
            code: string;
        };
        OpenDataRequest: {
            /** @description standard base64 */
            encryptedData: string;
            iv: string;
        };
        LoginResult: {
            token: string;
            /** @description seconds */
            expiresIn: number;
            openId: string;
            unionId: string | null;
            isNewUser: boolean;
        };
        UserProfile: {
            openId: string;
            unionId: string | null;
            phoneNumber: string | null;
            countryCode: string | null;
            createdAt: components["schemas"]["DateTime"];
            lastLoginAt: components["schemas"]["DateTime"];
        };
        UnionIdResult: {
            unionId: string;
        };
        PhoneResult: {
            phoneNumber: string;
            purePhoneNumber: string;
            /** @description always a string, e.g. '86' */
            countryCode: string;
        };
        HealthReport: {
            /** @enum {string} */
            status: "ok" | "degraded";
            /** @enum {string} */
            mongo: "up" | "down";
            /** @enum {string} */
            indexes: "ok" | "failed" | "unchecked";
            indexProblems?: {
                collection: string;
                index: string;
                reason: string;
            }[];
            /** @description seconds */
            uptime: number;
            version: string;
        };
        TextCheckResult: {
            suggest: components["schemas"]["Suggest"];
            /** @description 100 normal, 10001 advertising, 20001 politics, ... */
            label: number;
            traceId: string | null;
        };
        MediaCheckView: {
            traceId: string;
            /** @enum {string} */
            status: "pending" | "done" | "failed" | "timed_out";
            /** @enum {string} */
            mediaType?: "image" | "audio";
            mediaUrl?: string;
            scene?: string;
            requestedAt?: components["schemas"]["DateTime"];
            suggest?: components["schemas"]["Suggest"];
            label?: number;
            detail?: {
                strategy: string;
                errcode: number;
                suggest?: components["schemas"]["Suggest"];
                label?: number;
                prob?: number;
            }[];
            errcode?: number;
            errmsg?: string;
            verdictAt?: components["schemas"]["DateTime"];
            timedOutAt?: components["schemas"]["DateTime"];
        };
        /** @description Hands a plaintext JSON push to human agents (转发客服消息) */
        TransferReply: {
            ToUserName: string;
            FromUserName: string;
            CreateTime: number;
            /** @constant */
            MsgType: "transfer_customer_service";
        };
        /** @description An answer in safe or compatible mode (消息加解密) */
        EncryptedReply: {
            Encrypt: string;
            MsgSignature: string;
            TimeStamp: number;
            Nonce: string;
        };
        RuleMatch: {
            /** @enum {string} */
            msgType: "text" | "image" | "miniprogrampage" | "event";
            /**
             * @description required with msgType event
             * @constant
             */
            event?: "user_enter_tempsession";
            /** @description only with msgType text; absent, any text matches */
            keyword?: {
                /** @enum {string} */
                mode: "exact" | "contains" | "regex";
                value: string;
                /** @default false */
                caseSensitive: boolean;
            };
        };
        /** @description The custom/send body without touser. Images name a stored image (POST /admin/media); rules stored before hold a raw media_id */
        RuleReply: {
            /** @constant */
            msgtype: "text";
            text: {
                /** @description at most 2048 bytes of UTF-8 */
                content: string;
            };
        } | {
            /** @constant */
            msgtype: "link";
            link: {
                title: string;
                description?: string;
                url: string;
                thumb_url?: string;
            };
        } | {
            /** @constant */
            msgtype: "image";
            image: {
                mediaRef: components["schemas"]["ObjectId"];
            } | {
                media_id: string;
            };
        } | {
            /** @constant */
            msgtype: "miniprogrampage";
            miniprogrampage: {
                title: string;
                pagepath: string;
                thumbMediaRef?: components["schemas"]["ObjectId"];
                /** @description stored rules only; refused as input */
                thumb_media_id?: string;
            } & (unknown | unknown);
        };
        RuleReplyInput: {
            /** @constant */
            msgtype: "text";
            text: {
                /** @description at most 2048 bytes of UTF-8 */
                content: string;
            };
        } | {
            /** @constant */
            msgtype: "link";
            link: {
                title: string;
                description?: string;
                /** @description an http(s) URL */
                url: string;
                /** @description an http(s) URL, or empty */
                thumb_url?: string;
            };
        } | {
            /** @constant */
            msgtype: "image";
            image: {
                /** @description the id of a stored image (POST /admin/media) */
                mediaRef: components["schemas"]["ObjectId"];
            };
        } | {
            /** @constant */
            msgtype: "miniprogrampage";
            miniprogrampage: {
                title: string;
                /** @description a page path without spaces */
                pagepath: string;
                /** @description the id of a stored image (POST /admin/media) */
                thumbMediaRef: components["schemas"]["ObjectId"];
            };
        };
        /** @description action reply (the default) needs reply; action transfer (hand to human agents) takes no reply and no event match */
        ReplyRuleInput: {
            name: string;
            /** @default true */
            enabled: boolean;
            /**
             * @description higher first; ties go to the older rule
             * @default 0
             */
            priority: number;
            match: components["schemas"]["RuleMatch"];
            /**
             * @default reply
             * @enum {string}
             */
            action: "reply" | "transfer";
            reply: components["schemas"]["RuleReplyInput"];
        } | {
            name: string;
            /** @default true */
            enabled: boolean;
            /**
             * @description higher first; ties go to the older rule
             * @default 0
             */
            priority: number;
            match: components["schemas"]["RuleMatch"];
            /** @constant */
            action: "transfer";
        };
        /** @description exactly one of expire_time and expire_interval */
        LinkRequest: {
            /** @description a page path; empty: the home page */
            path?: string;
            /** @description made of digits, letters and !#$&'()*+,/:;=?@-._~% only */
            query?: string;
            env_version?: components["schemas"]["EnvVersion"];
            /**
             * @description 0: expire_time; 1: expire_interval
             * @enum {integer}
             */
            expire_type?: 0 | 1;
            /** @description Unix seconds, more than a minute and at most 30 days ahead */
            expire_time?: number;
            /** @description days */
            expire_interval?: number;
        } & (unknown | unknown);
        ReplyRuleView: {
            id: components["schemas"]["ObjectId"];
            name: string;
            enabled: boolean;
            priority: number;
            /** @enum {string} */
            action: "reply" | "transfer";
            match: components["schemas"]["RuleMatch"];
            reply?: components["schemas"]["RuleReply"];
            createdAt?: components["schemas"]["DateTime"];
            updatedAt?: components["schemas"]["DateTime"];
            /** @description why this stored rule never matches (a regex that cannot run now) */
            problem?: string;
            /**
             * @description the rule holds a raw media_id, which expires
             * @constant
             */
            needsImage?: true;
            warning?: string;
        };
        InboxItemView: {
            id: components["schemas"]["ObjectId"];
            /** @enum {string} */
            channel: "miniprogram" | "officialAccount";
            msgType: string;
            event?: string;
            msgId?: string;
            fromUser: string;
            createTime?: number;
            /** @description the first 200 characters */
            content?: string;
            /** @enum {string} */
            status: "pending" | "processing" | "done" | "failed";
            attempts: number;
            nextAttemptAt?: components["schemas"]["DateTime"];
            lastError?: string;
            reply: {
                /** @enum {string} */
                state: "none" | "sending" | "sent" | "failed" | "unknown" | "skipped" | "expired" | "transferred";
                ruleId?: string;
                msgtype?: string;
                errcode?: number;
                errmsg?: string;
                sentAt?: components["schemas"]["DateTime"];
            };
            createdAt: components["schemas"]["DateTime"];
            processedAt?: components["schemas"]["DateTime"];
        };
        StoredMediaView: {
            id: components["schemas"]["ObjectId"];
            name: string;
            /** @enum {string} */
            format: "png" | "jpeg" | "gif";
            /** @enum {string} */
            contentType: "image/png" | "image/jpeg" | "image/gif";
            size: number;
            sha256: string;
            wechatMediaExpiresAt: components["schemas"]["NullableDateTime"];
            createdAt?: components["schemas"]["DateTime"];
        };
        SubscribeSendRequest: {
            /** @description an openid (6-64 characters of A-Z a-z 0-9 _ -) */
            openId?: string;
            /** @description a unionid (6-64 characters of A-Z a-z 0-9 _ -) */
            unionId?: string;
            /** @description a template id (1-128 characters of A-Z a-z 0-9 _ -) */
            template_id: string;
            /** @description a page path such as pages/index/index?foo=bar (at most 1024 characters) */
            page?: string;
            /** @description the template's fields, such as { "thing1": { "value": "..." } } or { "thing1": "..." }; values at most 200 characters */
            data: {
                [key: string]: string | {
                    value: string;
                };
            };
            /**
             * @default formal
             * @enum {string}
             */
            miniprogram_state: "developer" | "trial" | "formal";
            /**
             * @default zh_CN
             * @enum {string}
             */
            lang: "zh_CN" | "en_US" | "zh_HK" | "zh_TW";
            /** @description 8-128 printable ASCII characters (the same key always means the same send) */
            idempotencyKey: string;
        } & (unknown | unknown);
        SubscribeGrantView: {
            templateId: string;
            /** @description one-time sends allowed (one per accept in a popup) */
            oneTimeAvailable: number;
            /**
             * @description the user's latest choice (a long-term template's grant)
             * @enum {unknown}
             */
            status: "accept" | "reject" | null;
            statusAt: components["schemas"]["NullableDateTime"];
            lastPopupAt: components["schemas"]["NullableDateTime"];
            lastChangeAt: components["schemas"]["NullableDateTime"];
            lastSent: null | {
                at: components["schemas"]["DateTime"];
                msgId?: string;
                errorCode?: number;
                errorStatus?: string;
            };
            updatedAt: components["schemas"]["DateTime"];
        };
        SubscribeSendView: {
            id: components["schemas"]["ObjectId"];
            idempotencyKey: string;
            openId: string;
            unionId?: string;
            templateId: string;
            page?: string;
            /** @enum {string} */
            miniprogramState: "developer" | "trial" | "formal";
            /** @enum {string} */
            lang: "zh_CN" | "en_US" | "zh_HK" | "zh_TW";
            /** @enum {string} */
            grant: "oneTime" | "longTerm";
            grantReturned: boolean;
            /** @enum {string} */
            status: "reserving" | "queued" | "sending" | "sent" | "failed" | "unknown";
            attempts: number;
            nextAttemptAt?: components["schemas"]["DateTime"];
            error?: string;
            errcode?: number;
            errmsg?: string;
            sentAt?: components["schemas"]["DateTime"];
            finishedAt?: components["schemas"]["DateTime"];
            createdAt: components["schemas"]["DateTime"];
        };
        SubscribeTemplateView: {
            templateId: string;
            title: string;
            /**
             * @description type 2 one-time, type 3 long-term
             * @enum {string}
             */
            kind: "oneTime" | "longTerm";
            type: number;
            content: string;
            example: string;
            fields: {
                /** @description e.g. thing1 */
                key: string;
                /** @description e.g. thing */
                type: string;
            }[];
            /** @description enum fields' allowed values, by data key */
            enums: {
                [key: string]: string[];
            };
        };
        SyncRunView: {
            runId: components["schemas"]["ObjectId"];
            /** @enum {string} */
            status: "running" | "failed" | "completed" | "abandoned";
            /** @enum {string} */
            trigger: "admin" | "schedule";
            pagesDone: number;
            followersSoFar: number;
            total: number | null;
            markedUnsubscribed: number | null;
            calls: {
                userGet: number;
                batchGet: number;
            };
            attempts: number;
            lastError: string | null;
            startedAt: components["schemas"]["DateTime"];
            finishedAt: components["schemas"]["NullableDateTime"];
            updatedAt: components["schemas"]["NullableDateTime"];
            leaseUntil: components["schemas"]["NullableDateTime"];
        };
    };
    responses: {
        /** @description echostr as plain text, or a failure (SIGNATURE_INVALID, STALE_REQUEST, INVALID_PARAM, ...) */
        PushVerification: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "text/plain": string;
                "application/json": components["schemas"]["Failure"];
            };
        };
        /** @description The rule, or a failure */
        ReplyRule: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": (components["schemas"]["Success"] & {
                    data?: components["schemas"]["ReplyRuleView"];
                }) | components["schemas"]["Failure"];
            };
        };
        /** @description The stored image, or a failure */
        StoredMedia: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": (components["schemas"]["Success"] & {
                    data?: components["schemas"]["StoredMediaView"];
                }) | components["schemas"]["Failure"];
            };
        };
        /** @description What was deleted, or a failure */
        Deleted: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": (components["schemas"]["Success"] & {
                    data?: {
                        id: components["schemas"]["ObjectId"];
                        /** @constant */
                        deleted: true;
                    };
                }) | components["schemas"]["Failure"];
            };
        };
        /** @description The send, or a failure (INVALID_PARAM, NOT_FOUND, NO_SUBSCRIPTION_GRANT, ...) */
        SubscribeSend: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": (components["schemas"]["Success"] & {
                    data?: components["schemas"]["SubscribeSendView"];
                }) | components["schemas"]["Failure"];
            };
        };
        /** @description The new link, or a failure (WECHAT_PAGE_INVALID, WECHAT_INVALID_ARGS, WECHAT_RATE_LIMITED, ...) */
        GeneratedLink: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": (components["schemas"]["Success"] & {
                    data?: {
                        link: string;
                        path: string;
                        query: string;
                        envVersion: components["schemas"]["EnvVersion"];
                        expiresAt: components["schemas"]["DateTime"];
                    };
                }) | components["schemas"]["Failure"];
            };
        };
    };
    parameters: {
        /** @description within WECHAT_MSG_MAX_AGE_SECONDS of the server time */
        Timestamp: string;
        Nonce: string;
        Echostr: string;
        Openid: string;
        EncryptType: "aes" | "raw";
        /** @description safe and compatible mode */
        MsgSignature: string;
        ObjectIdPath: components["schemas"]["ObjectId"];
    };
    requestBodies: {
        /** @description The push as WeChat sends it, at most 64 KB (plaintext, or `Encrypt` in safe mode) */
        Push: {
            content: {
                "application/json": Record<string, never>;
                "text/xml": string;
            };
        };
        ReplyRule: {
            content: {
                "application/json": components["schemas"]["ReplyRuleInput"];
            };
        };
        Link: {
            content: {
                "application/json": components["schemas"]["LinkRequest"];
            };
        };
    };
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getHealth: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The health report, or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: components["schemas"]["HealthReport"];
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CodeRequest"];
            };
        };
        responses: {
            /** @description A new session token, or a failure (INVALID_PARAM, WECHAT_CODE_INVALID, RATE_LIMITED, ...) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: components["schemas"]["LoginResult"];
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    getUser: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The profile, or a failure (UNAUTHORIZED, ...) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: components["schemas"]["UserProfile"];
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    bindUnionId: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["OpenDataRequest"];
            };
        };
        responses: {
            /** @description The unionId, or a failure (DECRYPT_FAILED, NO_UNIONID, WATERMARK_MISMATCH, OPENID_MISMATCH, ...) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: components["schemas"]["UnionIdResult"];
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    bindPhone: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CodeRequest"] | components["schemas"]["OpenDataRequest"];
            };
        };
        responses: {
            /** @description The phone number, or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: components["schemas"]["PhoneResult"];
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    checkText: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TextCheckRequest"];
            };
        };
        responses: {
            /** @description WeChat's verdict, or a failure (WECHAT_USER_INACTIVE, RATE_LIMITED, ...) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: components["schemas"]["TextCheckResult"];
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    submitMediaCheck: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["MediaCheckRequest"];
            };
        };
        responses: {
            /** @description The check's trace id, or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            traceId: string;
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    getMediaCheck: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                traceId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description pending, done (suggest, label, detail), failed or timed_out; or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: components["schemas"]["MediaCheckView"];
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    verifyMiniprogramPush: {
        parameters: {
            query: {
                /** @description within WECHAT_MSG_MAX_AGE_SECONDS of the server time */
                timestamp: components["parameters"]["Timestamp"];
                nonce: components["parameters"]["Nonce"];
                echostr: components["parameters"]["Echostr"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["PushVerification"];
        };
    };
    receiveMiniprogramPush: {
        parameters: {
            query: {
                /** @description within WECHAT_MSG_MAX_AGE_SECONDS of the server time */
                timestamp: components["parameters"]["Timestamp"];
                nonce: components["parameters"]["Nonce"];
                openid?: components["parameters"]["Openid"];
                encrypt_type?: components["parameters"]["EncryptType"];
                /** @description safe and compatible mode */
                msg_signature?: components["parameters"]["MsgSignature"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["Push"];
        responses: {
            /** @description `success`, the transfer_customer_service answer, or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": "success";
                    "application/json": components["schemas"]["TransferReply"] | components["schemas"]["EncryptedReply"] | components["schemas"]["Failure"];
                    "text/xml": string;
                };
            };
        };
    };
    verifyOfficialAccountPush: {
        parameters: {
            query: {
                /** @description within WECHAT_MSG_MAX_AGE_SECONDS of the server time */
                timestamp: components["parameters"]["Timestamp"];
                nonce: components["parameters"]["Nonce"];
                echostr: components["parameters"]["Echostr"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["PushVerification"];
        };
    };
    receiveOfficialAccountPush: {
        parameters: {
            query: {
                /** @description within WECHAT_MSG_MAX_AGE_SECONDS of the server time */
                timestamp: components["parameters"]["Timestamp"];
                nonce: components["parameters"]["Nonce"];
                openid?: components["parameters"]["Openid"];
                encrypt_type?: components["parameters"]["EncryptType"];
                /** @description safe and compatible mode */
                msg_signature?: components["parameters"]["MsgSignature"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["Push"];
        responses: {
            /** @description `success`, or a failure (SIGNATURE_INVALID, OA_NOT_CONFIGURED, ...) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": "success";
                    "application/json": components["schemas"]["Failure"];
                };
            };
        };
    };
    listReplyRules: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The rules, or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            rules: components["schemas"]["ReplyRuleView"][];
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    createReplyRule: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["ReplyRule"];
        responses: {
            200: components["responses"]["ReplyRule"];
        };
    };
    getReplyRule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["ObjectIdPath"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["ReplyRule"];
        };
    };
    replaceReplyRule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["ObjectIdPath"];
            };
            cookie?: never;
        };
        requestBody: components["requestBodies"]["ReplyRule"];
        responses: {
            200: components["responses"]["ReplyRule"];
        };
    };
    deleteReplyRule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["ObjectIdPath"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["Deleted"];
        };
    };
    listInboxMessages: {
        parameters: {
            query?: {
                status?: "pending" | "processing" | "done" | "failed";
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The messages, newest first, or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            messages: components["schemas"]["InboxItemView"][];
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    listMedia: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The stored images, or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            media: components["schemas"]["StoredMediaView"][];
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    uploadMedia: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/form-data": {
                    /** @description the image file (its name is kept; its type is judged by content) */
                    media: string;
                };
            };
        };
        responses: {
            200: components["responses"]["StoredMedia"];
        };
    };
    getMedia: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["ObjectIdPath"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["StoredMedia"];
        };
    };
    deleteMedia: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["ObjectIdPath"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["Deleted"];
        };
    };
    getSubscription: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The follow state, or a failure (NO_UNIONID, OA_NOT_CONFIGURED, ...) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            subscribed: boolean;
                            subscribedAt: components["schemas"]["NullableDateTime"];
                            unionId: string;
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    getFollower: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description 16 to 64 characters of A-Z, a-z, 0-9, _ and - */
                unionId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The follower as the store knows it, or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            unionId: string;
                            subscribed: boolean;
                            subscribedAt: components["schemas"]["NullableDateTime"];
                            /** @description false: the store has no follower with this unionId */
                            known: boolean;
                            unsubscribedAt: components["schemas"]["NullableDateTime"];
                            lastFullSyncAt: components["schemas"]["NullableDateTime"];
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    getFollowerSync: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The latest run (null if none), or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            run: components["schemas"]["SyncRunView"] | null;
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    startFollowerSync: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Whether a run started, and the run; or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            started: boolean;
                            resumed: boolean;
                            run: components["schemas"]["SyncRunView"];
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    getWxaCode: {
        parameters: {
            query: {
                /** @description 1 to 32 of digits, letters and !#$&'()*+,/:;=?@-._~ (WeChat: 最大32个可见字符; encode anything else, e.g. base62) */
                scene: string;
                /** @description a page path such as pages/index/index; empty: the home page */
                page?: string;
                check_path?: "true" | "false";
                env_version?: components["schemas"]["EnvVersion"];
                /** @description pixels */
                width?: number;
                auto_color?: "true" | "false";
                /** @description R,G,B (0-255 each); only with auto_color false */
                line_color?: string;
                is_hyaline?: "true" | "false";
            };
            header?: {
                "If-None-Match"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The code's image (the same bytes every time for the same parameters), or a failure */
            200: {
                headers: {
                    ETag?: string;
                    "Cache-Control"?: "private, max-age=31536000, immutable";
                    [name: string]: unknown;
                };
                content: {
                    "image/png": string;
                    "image/jpeg": string;
                    "application/json": components["schemas"]["Failure"];
                };
            };
            /** @description Not modified (If-None-Match matched the ETag) */
            304: {
                headers: {
                    ETag?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    createUrlLink: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["Link"];
        responses: {
            200: components["responses"]["GeneratedLink"];
        };
    };
    createUrlScheme: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: components["requestBodies"]["Link"];
        responses: {
            200: components["responses"]["GeneratedLink"];
        };
    };
    getSubscribeGrants: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The grants (at most 200, by template id), or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            grants: components["schemas"]["SubscribeGrantView"][];
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    sendSubscribeMessage: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SubscribeSendRequest"];
            };
        };
        responses: {
            200: components["responses"]["SubscribeSend"];
        };
    };
    getSubscribeMessage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: components["parameters"]["ObjectIdPath"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: components["responses"]["SubscribeSend"];
        };
    };
    listSubscribeTemplates: {
        parameters: {
            query?: {
                /** @description true: read WeChat now (no other query parameters are allowed) */
                refresh?: "true" | "false";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The templates, or a failure */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": (components["schemas"]["Success"] & {
                        data?: {
                            templates: components["schemas"]["SubscribeTemplateView"][];
                            fetchedAt: components["schemas"]["DateTime"];
                        };
                    }) | components["schemas"]["Failure"];
                };
            };
        };
    };
    getContract: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI 3.1 document, or NOT_FOUND */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @constant */
                        openapi: "3.1.0";
                    } | components["schemas"]["Failure"];
                };
            };
        };
    };
    getReferencePage: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The page, or NOT_FOUND */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                    "application/json": components["schemas"]["Failure"];
                };
            };
        };
    };
    getReferencePageAsset: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                file: "swagger-ui.css" | "swagger-ui-bundle.js" | "reference.js";
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The file, or NOT_FOUND */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/css": string;
                    "application/javascript": string;
                    "application/json": components["schemas"]["Failure"];
                };
            };
        };
    };
}

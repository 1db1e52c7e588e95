// Who reported an error, and which way the failing call went. These cues are the platform's
// vocabulary (adapter classes, ABAP transactions, runtime host shapes), not any one entry's symptoms,
// so they live beside the signal reader rather than in kb/.
import type { Direction } from '../types.js';

export interface Cue {
  re: RegExp;
  /** The component that printed the error, when the cue names one. */
  reporter?: string;
  direction?: Direction;
  /** How strongly the cue says `direction`, in (0,1]. */
  weight: number;
  /** The cue does not count when this (or any of these) also matches the text. */
  unless?: RegExp | RegExp[];
  means: string;
}

const out = 'outbound' as const;
const POLLING = /\bpoll(?:ing|ed|s)?\b|\bPOLL_FAILED\b|\bSFTP\b|\bSuccessFactors\b/i;
const inb = 'inbound' as const;
/**
 * An integration flow's endpoint path: the runtime serves /http/... and /cxf/..., always in lower case.
 * Case-sensitive on purpose: an upper-case /HTTP/ is another site's path (MDN's /Web/HTTP/Status, which
 * every Dart dio exception links to), not a call to the tenant.
 */
const IFLOW_PATH = /\/(?:http|cxf)\/[\w.~-]/;

export const CUES: Cue[] = [
  // Receiver adapters of the tenant: the tenant was the client.
  {
    re: /HTTP response '\d{3}[^'\n]*' when communicating with/i,
    reporter: 'Apache CXF (SOAP receiver adapter)',
    direction: out,
    weight: 0.9,
    means: 'the SOAP (CXF) client of an integration flow called a receiver',
  },
  {
    re: /HTTP operation failed invoking|AhcOperationFailedException/i,
    reporter: 'Camel HTTP client (HTTP receiver adapter)',
    direction: out,
    weight: 0.9,
    means: "the HTTP receiver adapter's client called a receiver",
  },
  {
    re: /\bcom\.sap\.it\.rt\.adapter\.http\.api\.exception\.HttpResponseException\b/,
    reporter: 'HTTP receiver adapter',
    direction: out,
    weight: 0.85,
    means: 'the HTTP receiver adapter reported the response of a receiver',
  },
  {
    re: /\bOsciException\b|\bcom\.sap\.gateway\.core\.ip\b|\bcom\.sap\.it\.rt\.adapter\.odata(?:v[24])?\./,
    reporter: 'OData receiver adapter',
    direction: out,
    weight: 0.8,
    means: 'the OData adapter of an integration flow called a receiver',
  },
  {
    // The exception classes of adapters that are (almost) only receivers, as the runtime names them.
    re: /\bcom\.sap\.it\.rt\.adapter\.(?:successfactors|sfsf|ariba|jdbc|rfc|servicenow|salesforce|workday|concur|openconnectors|aws|snowflake|splunk)\w*\./,
    direction: out,
    weight: 0.7,
    unless: /\bsender (?:adapter|channel)\b/i,
    means: "a receiver adapter's own exception class: the integration flow called a receiver",
  },
  {
    re: /\bcom\.jcraft\.jsch\b|\bJSchException\b|\bJSch\b/i,
    reporter: 'JSch (SFTP adapter)',
    direction: out,
    weight: 0.6,
    means: 'a Java SSH client (JSch, used by the SFTP adapter) connected to a server',
  },
  {
    re: /\b(?:javax|jakarta)\.mail\b|\bcom\.sun\.mail\b|\bMailConnectException\b/,
    reporter: 'JavaMail (mail adapter)',
    direction: out,
    weight: 0.6,
    means: 'a Java mail client (as in the mail receiver adapter) connected to a mail server',
  },
  {
    re: /\breceiver (?:adapter|channel|system)\b/i,
    direction: out,
    weight: 0.7,
    means: 'a receiver was called',
  },
  { re: /\breceiver\b/i, direction: out, weight: 0.4, means: 'a receiver is involved' },
  {
    re: /\b(?:SAP )?cloud connector\b|\bSCC\b/i,
    direction: out,
    weight: 0.6,
    means: 'calls through the Cloud Connector go from the cloud to an on-premise system',
  },
  { re: /\bon-?prem(?:ise)?\b/i, direction: out, weight: 0.5, means: 'an on-premise system was called' },
  { re: /\bbackend\b|\bback-end\b/i, direction: out, weight: 0.4, means: 'a backend system was called' },
  {
    re: /\b(?:BTP |HTTP )?destination\b(?! service)/i,
    direction: out,
    weight: 0.35,
    means: 'a destination points from the cloud to a target system',
  },
  {
    re: /\btarget (?:system|server|api|url|endpoint|host)\b|\b(?:external|partner|third[- ]party) (?:server|system|api|service)\b/i,
    direction: out,
    weight: 0.45,
    means: 'a target system was called',
  },
  { re: /\bcallout\b/i, direction: out, weight: 0.5, means: 'an outgoing callout' },
  {
    re: /\b(?:call|calls|request|requests)\s+(?:from|in|out of)\s+(?:the |our |my |an? )?(?:i-?flow|integration flow)\b|\b(?:i-?flow|integration flow)\s+(?:calls|calling|invokes|sends? to|posts? to)\b/i,
    direction: out,
    weight: 0.6,
    means: 'the integration flow made the call',
  },
  {
    re: /\bpoll(?:ing|ed|s)?\b|\bPOLL_FAILED\b/i,
    direction: out,
    weight: 0.5,
    means: 'a polling sender channel: the tenant connects to the server',
  },
  {
    re: /\bprincipal propagation\b|SAP-Connectivity-Authentication/i,
    direction: out,
    weight: 0.6,
    means: 'principal propagation carries a user from the cloud to an on-premise system',
  },
  {
    re: /\bcredential name\b|\buser credentials? artifact\b|\brequest[- ]reply\b/i,
    direction: out,
    weight: 0.5,
    means: 'integration-flow configuration of an outgoing call',
  },

  {
    // Adapters that are (almost) only receivers: naming one names the tenant as the caller. HTTPS, SOAP,
    // IDoc, AS2 and mail adapters exist as senders too, so they are left out.
    re: /\b(?:ServiceNow|OData(?: V[24])?|SuccessFactors|JDBC|RFC|Ariba|Salesforce|Workday|Concur|HTTP|Open Connectors|AmazonWebServices|AWS|Microsoft Dynamics|Splunk|Snowflake)\s+(?:receiver\s+)?adapter\b/i,
    direction: out,
    weight: 0.55,
    unless: /\bsender (?:adapter|channel)\b/i,
    means: 'a receiver adapter of the integration flow made the call',
  },
  {
    re: /\bremote\b[^.\n]{0,40}?\b(?:responded|returned|answered|replied|sent back|rejected|refused)\b/i,
    direction: out,
    weight: 0.6,
    means: 'a remote system answered the call the tenant made',
  },
  {
    re: /\b(?:while|when|during|on|upon) (?:connecting|calling|invoking|sending (?:the |a )?(?:request|message|data)|posting|trying to (?:connect|call|reach|access))\s+(?:to\s+)?(?!(?:the |our |my |an? )?(?:CPI|tenant|i-?flow|integration flow|SAP Cloud Integration|Cloud Integration|SOAP Runtime)\b)[\w"'<]/i,
    direction: out,
    weight: 0.4,
    // A sender's own log says "while calling the iFlow"; the lookahead above keeps the tenant out.
    unless: [/\bsender (?:system|adapter|channel)\b/i, IFLOW_PATH],
    means: 'the text reports a call to another system',
  },
  {
    // Calls to a SaaS API are the tenant's outbound calls: a sender is rarely one of these APIs.
    re: /\b(?:SuccessFactors|ServiceNow|Salesforce|Ariba|Workday|Concur|Coupa|Graph) (?:OData |REST |SOAP |Web ?service |OAuth )?(?:API|APIs|service|instance|endpoint|call)\b|\bSuccessFactors (?:HCM|HXM)\b|\b(?:calling|call to|calls to|connecting to|connection to|request to|requests to|invoking|querying) (?:the )?(?:SuccessFactors|ServiceNow|Salesforce|Ariba|Workday|Concur|Coupa)\b/i,
    direction: out,
    weight: 0.5,
    means: 'the tenant called a SaaS API',
  },

  {
    // A general-purpose HTTP client printed the error: its writer called another system. For the PHP
    // (Guzzle), Dart (dio) and Ruby (Faraday) clients only their status exceptions count, as for .NET
    // and Spring: their TLS and connect exceptions keep the direction open. A sender's
    // script calling the tenant prints the same, so the cue is weak: the tenant's host or an iFlow
    // path in the text (inbound cues) outweighs it.
    re: /\bHTTPS?ConnectionPool\(host=|\bMax retries exceeded with url\b|\brequests\.exceptions\.\w+|\burllib3?\.(?:exceptions|error)\b|\bInvoke-(?:RestMethod|WebRequest)\b|\bThe remote server returned an error: \(\d{3}\)|\bServer returned HTTP response code: \d{3} for URL\b|\bResponse status code does not indicate success\b|\bReceived status code \d{3} from server\b|\bHTTP status (?:client|server) error \(\d{3}|\borg\.http4s\.client\.|\bHttpClientErrorException\b|\bHttpServerErrorException\b|\bWebClientResponseException\b|\bo\.s\.web\.client\.RestTemplate\b|\bokhttp3\.|\bAxiosError\b|\bnode_modules\/axios\/|\bGuzzleHttp\\Exception\\(?:Client|Server|BadResponse)Exception\b|\b(?:Client|Server) error: `(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) |\b(?:Client|Server) error response \[url\]|\bDio(?:Exception|Error) \[bad response\]|\bDioErrorType\.(?:response|RESPONSE|badResponse)\b|\bFaraday::(?!SSLError|ConnectionFailed|TimeoutError)\w*Error\b|\bthe server responded with status \d{3}\b/,
    direction: out,
    weight: 0.35,
    // Such a client calling the tenant's runtime (its host, an iFlow path) is a sender.
    unless: [/\bsender (?:system|adapter|channel)\b|-rt\.cfapps\.|\.it-cpi\w*\.|-iflmap\./i, IFLOW_PATH],
    means:
      'a general-purpose HTTP client (Python requests, PowerShell, .NET HttpClient, Java HttpURLConnection, Gradle, Rust reqwest, http4s, Spring, OkHttp, axios, PHP Guzzle, Dart dio, Ruby Faraday) called another system',
  },
  {
    re: /\b(?:could not|couldn.t|cannot|can.t|unable to|failed to) (?:connect|reach|call|invoke)\s+(?:to\s+)?(?!(?:to\s+)?(?:the |our |my |an? )?(?:CPI|tenant|i-?flow|integration flow|SAP Cloud Integration|Cloud Integration|SOAP Runtime)\b)[\w"'<]/i,
    direction: out,
    weight: 0.4,
    unless: [/\bsender (?:system|adapter|channel)\b/i, IFLOW_PATH],
    means: 'the writer could not reach another system it called',
  },

  {
    // Java's certificate path validator (sun.security.validator) judged a certificate for the Java
    // client that called: the runtime's outbound calls are Java, as "PKIX path building failed" is.
    re: /\bsun\.security\.validator\.ValidatorException\b|\bPKIX path validation failed\b/,
    direction: out,
    weight: 0.5,
    // In a server's stack (checkClientTrusted, ServerHandshaker) it judged a client's certificate.
    unless: [
      /\bsender (?:system|adapter|channel)\b|\bcheckClientTrusted\b|\bServerHandshaker\b/i,
      IFLOW_PATH,
    ],
    means:
      "Java's certificate validator on the calling side judged the certificate of the server it called (the tenant's runtime is Java)",
  },
  {
    // The client's own check of the server's certificate, in a client stack: Java's trust manager or
    // client handshaker (the runtime's outbound calls are Java), Node's TLS socket on connect.
    re: /\bcheckServerTrusted\b|\bClientHandshaker\.serverCertificate\b|\bcheckServerCerts\b|\bTLSSocket\.onConnectSecure\b/,
    direction: out,
    weight: 0.5,
    means: "a client checked the certificate of the server it called (a client's stack, not the server's)",
  },

  // Senders calling the tenant.
  {
    re: /\bsender (?:system|adapter|channel)\b/i,
    direction: inb,
    weight: 0.6,
    // A polling sender channel (SFTP, SuccessFactors, mail) is the tenant calling out.
    unless: POLLING,
    means: 'a sender called the tenant',
  },
  { re: /\bsender\b/i, direction: inb, weight: 0.4, unless: POLLING, means: 'a sender is involved' },
  {
    re: /\b(?:send|sends|sent|sending|post|posts|posted|posting|push|pushes|pushed)\b[^.\n]{0,40}\bto (?:our |the |my |their )?(?:CPI|tenant|i-?flow|integration flow)(?: endpoint)?\b/i,
    direction: inb,
    weight: 0.6,
    means: 'a system sends to the tenant',
  },
  {
    re: /\b(?:call|calls|calling|called|trigger|triggering|invoke|invoking)\s+(?:the |my |an? |our )?(?:i-?flow|integration flow|CPI|tenant)\b|\b(?:i-?flow|integration flow)(?:'s)? (?:endpoint|url)\b|\bendpoint of (?:the |my |an )?(?:i-?flow|integration flow)\b/i,
    direction: inb,
    weight: 0.7,
    means: 'a client called an integration flow endpoint on the tenant',
  },
  {
    re: IFLOW_PATH,
    direction: inb,
    weight: 0.55,
    means: 'an integration flow endpoint path (/http/... or /cxf/...) was called',
  },
  {
    re: /-rt\.cfapps\.[\w.-]+|\.it-cpi\w*\.|-iflmap\.|\bit-rt-/i,
    direction: inb,
    weight: 0.75,
    means: 'a Cloud Integration runtime host was called',
  },
  {
    re: /\bESBMess(?:a|e)ging\.send\b/i,
    direction: inb,
    weight: 0.7,
    means: 'ESBMessaging.send is the role a sender needs to call the tenant',
  },
  {
    re: /\bservice key\b|\bintegration-flow\b plan|\bprocess integration runtime\b/i,
    direction: inb,
    weight: 0.5,
    means: 'service-key credentials are what senders use to call the tenant',
  },
  {
    re: /\bSOAManager\b|\blogical port\b|\bSM59\b|\bSTRUST\b|\bSMICM\b|\bdev_icm\b|\bSRT_UTIL\b/i,
    reporter: 'SAP ABAP system',
    direction: inb,
    weight: 0.55,
    means: 'an SAP ABAP system was the client (as a sender it calls the tenant)',
  },
  {
    re: /\bICM_HTTP_[A-Z_]+|\bSSSLERR_[A-Z_]+|\bSapSSL\w*|\bNIECONN_[A-Z]+/,
    reporter: 'SAP ABAP ICM',
    direction: inb,
    weight: 0.5,
    means: "the ABAP Internet Communication Manager's client reported it (an ABAP sender)",
  },
  {
    re: /\bload balancer\b/i,
    direction: inb,
    weight: 0.4,
    means: "SAP's load balancer sits in front of the tenant for inbound calls",
  },
  {
    re: /\bAuthentication object was not found in the SecurityContext\b|\bUnauthorizedUserException\b|\bunauthorized_user\b/i,
    reporter: 'Cloud Integration runtime',
    direction: inb,
    weight: 0.6,
    means: "the tenant's own authentication answered a caller",
  },
  {
    // The server's check of a client certificate, in a server stack: the caller's certificate was judged.
    re: /\bcheckClientTrusted\b|\bServerHandshaker\.clientCertificate\b|\bcheckClientCerts\b/,
    direction: inb,
    weight: 0.5,
    means: "a server checked the client certificate of its caller (a server's stack: the call came in)",
  },
  {
    re: /\bcertificate-to-user mapping\b|\bsubjectAndIssuers\b/i,
    direction: inb,
    weight: 0.7,
    means: 'inbound client-certificate authorization of the tenant',
  },
  {
    re: /\bpostman\b|\bsoap ?ui\b|\binsomnia\b/i,
    direction: inb,
    weight: 0.35,
    means: 'a test client called an endpoint',
  },
];

// What the waits and the init connect to, one type per kind of server: a system derives them
// from its file (src/pulp/targets.ts), the shared stages only read them.

/**
 * The protocol the service's own client speaks to an AMQP broker, which is what the wait
 * checks (Pulp: kombu's py-amqp for amqp://, python-qpid for qpid://).
 */
export type BrokerProtocol = 'amqp-0-9-1' | 'amqp-0-10';

/** The settings that name a target's TLS files, for messages: "server.conf [tasks] cacert". */
export type TlsSettings = Readonly<Record<'ca' | 'cert' | 'key', string>>;

/** How messages speak of the service's own client for an AMQP broker. */
export interface AmqpSpeaker {
  /** "Pulp" */
  service: string;
  /** "kombu's py-amqp" */
  client: string;
  /** "AMQP 0-9-1" */
  protocolName: string;
  /** What to set for a broker that speaks each version instead. */
  advice: Readonly<Record<'0-9-1' | '0-10', string>>;
  /** What the service can use at all: "Pulp 2 needs RabbitMQ (amqp://) or Qpid (qpid://)". */
  needs: string;
}

export interface MongoTarget {
  kind: 'mongodb';
  /** The seeds as written, IPv6 bracketed: "db:27017,db2:27017". */
  address: string;
  seeds: { host: string; port: number }[];
  database: string;
  username: string | undefined;
  password: string | undefined;
  replicaSet: string | undefined;
  tls: boolean;
  tlsVerify: boolean;
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  tlsSettings: TlsSettings;
  /** What to check when the database refuses the login. */
  authHint: string;
}

export interface AmqpTarget {
  kind: 'amqp';
  /** host:port, IPv6 bracketed. */
  address: string;
  /** What the service's client speaks there. */
  protocol: BrokerProtocol;
  /** The URL scheme as written (amqp, pyamqp, qpid, ...), for messages. */
  scheme: string;
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  vhost: string | undefined;
  tls: boolean;
  /**
   * Whether the broker's certificate is checked, as Pulp's client does: py-amqp (0-9-1) checks
   * the chain only with celery_require_ssl (against cacert) and never the host name; an
   * amqps:// URL alone encrypts without checking. python-qpid checks chain and name.
   */
  tlsVerify: 'none' | 'chain' | 'chain-and-name';
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  /** The SASL mechanism Pulp's client names ([tasks] login_method; py-amqp's default AMQPLAIN). */
  loginMethod: string | undefined;
  /** Which key of the service's file named this endpoint: "tasks.broker_url". */
  source: string;
  tlsSettings: TlsSettings;
  speaker: AmqpSpeaker;
}

export interface MysqlTarget {
  kind: 'mysql';
  /** host:port, IPv6 bracketed. */
  address: string;
  host: string;
  port: number;
  username: string;
  password: string | undefined;
  /** The database the service selects as it connects (the URL's path). */
  database: string;
  /** Which key of the service's file named this endpoint: "database.connection". */
  source: string;
}

export type Target = MongoTarget | AmqpTarget | MysqlTarget;

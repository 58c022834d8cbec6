<?php
// A Processing.kz shop as the vendor's PHP sample writes one: SoapClient in
// WSDL mode, the sample's classes and options, exceptions on. It runs a
// whole purchase against the switch and prints one JSON line per step; it
// waits on stdin while the buyer pays on the hosted page.
//
// php shop.php BASE_URL MERCHANT_ID LOGIN PASSWORD SHOP_URL

class TransactionDetails {
  public $billingAddress;
  public $currencyCode;
  public $customerReference;
  public $description;
  public $goodsList;
  public $languageCode;
  public $merchantAdditionalInformationList;
  public $merchantId;
  public $returnURL;
  public $terminalId; // the sample's spelling: the WSDL's is terminalID, so PHP never sends it
  public $totalAmount;
  public $merchantLocalDateTime;
  public $purchaserName;
  public $purchaserPhone;
  public $purchaserEmail;
  public $orderId;
}
class GoodsItem { public $amount; public $currencyCode; public $merchantsGoodsID; public $nameOfGoods; }
class AdditionalInformation { public $key; public $value; }
class startTransaction { public $transaction; }
class getTransactionStatus { public $merchantId; public $referenceNr; }
class completeTransaction { public $merchantId; public $referenceNr; public $transactionSuccess; public $overrideAmount; }
class refundTransaction { public $merchantId; public $password; public $referenceNr; public $refundAmount; public $description; public $goodsToRefund; public $additionalInformation; }

list(, $base, $mid, $login, $password, $shop) = $argv;

$client = new SoapClient($base . '/CNPMerchantWebServices/CNPMerchantWebService.wsdl', array(
  'connection_timeout' => 60,
  'cache_wsdl' => WSDL_CACHE_NONE,
  'trace' => 1,
  'soap_version' => 'SOAP 1.2', // as the sample: a string, which PHP ignores (it sends SOAP 1.1)
  'encoding' => 'UTF-8',
  'exceptions' => true,
  'login' => $login,
  'password' => $password,
  'location' => $base . '/CNPMerchantWebServices/services/CNPMerchantWebService',
  'classmap' => array('TransactionDetails' => 'TransactionDetails', 'GoodsItem' => 'GoodsItem',
    'AdditionalInformation' => 'AdditionalInformation'),
));

function out($step, $v) { echo json_encode(array('step' => $step, 'value' => $v), JSON_UNESCAPED_UNICODE), "\n"; }
function call($client, $op, $params) {
  return $client->__soapCall($op, array($params), array('uri' => 'https://kz.processing.cnp.merchant_ws/', 'soapaction' => ''));
}
function status($client, $mid, $ref) {
  $p = new getTransactionStatus();
  $p->merchantId = $mid;
  $p->referenceNr = $ref;
  return call($client, 'getTransactionStatus', $p)->return;
}

out('version', $client->__soapCall('getVersion', array())->return);
out('version_request', $client->__getLastRequest());

$pen = new GoodsItem();
$pen->nameOfGoods = 'Ручка шариковая';
$pen->merchantsGoodsID = 'PEN-1';
$pen->amount = 50000;
$pen->currencyCode = 398;
$t = new TransactionDetails();
$t->merchantId = $mid;
$t->terminalId = 'TEST TID';
$t->totalAmount = 100000;
$t->currencyCode = 398;
$t->description = 'Покупка в тестовом магазине';
$t->returnURL = $shop . '/index.php?route=payment/processingkz/success&orderID=77&sessionID=';
$t->goodsList = array($pen, $pen); // the same object twice: PHP writes a multi-reference
$info = new AdditionalInformation();
$info->key = 'channel';
$info->value = 'php';
$t->merchantAdditionalInformationList = array($info);
$t->languageCode = 'ru';
$t->merchantLocalDateTime = date('d.m.Y H:i:s');
$t->orderId = 77;
$t->purchaserName = 'IVANOV IVAN';
$t->purchaserEmail = 'purchaser@processing.kz';
$st = new startTransaction();
$st->transaction = $t;
$res = call($client, 'startTransaction', $st)->return;
out('start_request', $client->__getLastRequest());
out('start', $res);
$ref = $res->customerReference;

// The buyer pays on the hosted page.
fgets(STDIN);

out('authorised', status($client, $mid, $ref));
$p = new getTransactionStatus();
$p->merchantId = $mid;
$p->referenceNr = $ref;
out('extended', call($client, 'getExtendedTransactionStatus', $p)->return);

$c = new completeTransaction();
$c->merchantId = $mid;
$c->referenceNr = $ref;
$c->transactionSuccess = true;
$c->overrideAmount = '90000';
out('complete', call($client, 'completeTransaction', $c)->return);
out('paid', status($client, $mid, $ref));

$r = new refundTransaction();
$r->merchantId = $mid;
$r->referenceNr = $ref;
$r->refundAmount = '10000';
$r->description = 'Возврат одной ручки';
out('refund', call($client, 'refundTransaction', $r)->return);
out('refunded', status($client, $mid, $ref));

// Business errors are answers, never exceptions.
$t->languageCode = 'de';
$t->customerReference = null;
out('refused', call($client, 'startTransaction', $st)->return);
$c->referenceNr = 'NOSUCHREF001';
out('complete_unknown', call($client, 'completeTransaction', $c)->return);
out('unknown', status($client, $mid, 'NOSUCHREF001'));
